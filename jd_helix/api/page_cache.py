"""Answers kept per snapshot: a snapshot never changes, so a page computed once is the
right answer for as long as that snapshot is served (a new snapshot starts empty).

Least recently used entries go first once the cached bytes pass the budget. The budget
counts what an entry really holds: its body and cursor, a fixed-size digest of its key (a client
chooses the key's length through its filters: it is never kept whole) and the
bookkeeping of an entry, so no choice of filters can grow the cache past its budget.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass

DEFAULT_BUDGET_BYTES = 64 * 1024 * 1024
# An entry's own memory besides its body and cursor: the OrderedDict's node and slot, the
# 16-byte digest, the entry object, its ETag and the objects' headers (about 400 bytes on
# CPython 3.11, rounded up).
ENTRY_OVERHEAD_BYTES = 512


@dataclass(frozen=True, slots=True)
class CachedPage:
    body: bytes
    etag: str = ""
    next_cursor: str | None = None

    @property
    def nbytes(self) -> int:
        return len(self.body) + len(self.next_cursor or "") + ENTRY_OVERHEAD_BYTES


def _digest(key: Hashable) -> bytes:
    # repr() of the keys used here (str, int, None, datetime, tuples of them) is exact.
    return hashlib.blake2b(repr(key).encode(), digest_size=16).digest()


class PageCache:
    def __init__(self, budget_bytes: int = DEFAULT_BUDGET_BYTES):
        self.budget_bytes = budget_bytes
        self._entries: OrderedDict[bytes, CachedPage] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    @property
    def bytes_held(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._entries)

    def get_or_compute(self, key: Hashable, compute: Callable[[], CachedPage]) -> CachedPage:
        digest = _digest(key)
        with self._lock:
            page = self._entries.get(digest)
            if page is not None:
                self._entries.move_to_end(digest)
                return page
        # Computed outside the lock: two requests for one new page may both compute it.
        page = compute()
        if page.nbytes > self.budget_bytes:
            return page
        with self._lock:
            if digest not in self._entries:
                self._entries[digest] = page
                self._bytes += page.nbytes
            while self._bytes > self.budget_bytes:
                _, evicted = self._entries.popitem(last=False)
                self._bytes -= evicted.nbytes
        return page
