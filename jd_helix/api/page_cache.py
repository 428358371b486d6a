"""Answers kept per snapshot: a snapshot never changes, so a page computed once is the
right answer for as long as that snapshot is served (a new snapshot starts empty).

Least recently used entries go first once the cached bytes pass the budget.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Callable, Hashable

DEFAULT_BUDGET_BYTES = 64 * 1024 * 1024


class PageCache:
    def __init__(self, budget_bytes: int = DEFAULT_BUDGET_BYTES):
        self.budget_bytes = budget_bytes
        self._entries: OrderedDict[Hashable, bytes] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get_or_compute(self, key: Hashable, compute: Callable[[], bytes]) -> bytes:
        with self._lock:
            body = self._entries.get(key)
            if body is not None:
                self._entries.move_to_end(key)
                return body
        # Computed outside the lock: two requests for one new page may both compute it.
        body = compute()
        if len(body) > self.budget_bytes:
            return body
        with self._lock:
            if key not in self._entries:
                self._entries[key] = body
                self._bytes += len(body)
            while self._bytes > self.budget_bytes:
                _, evicted = self._entries.popitem(last=False)
                self._bytes -= len(evicted)
        return body
