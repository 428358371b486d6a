"""One rate limiter per Verkada organisation per process, shared by every thread and client.

Verkada allows 300 requests a minute per organisation, counted in 5 s windows of at most
25 (docs/verkada-helix-api.md, "Decisions"). The sandbox enforces both as *sliding*
windows on the arrival time of each request and answers a breach with 429 and a 5 s
cooldown, so the client must stay under both, for every request it sends: token, event
types, cameras, batch submits, polls, failure files, single posts and every retry of
any of them.

How it works
------------
* The counting is pyrate-limiter's (v4) ``InMemoryBucket`` with its ``SlidingWindowLog``
  algorithm and two ``Rate``s. We drive the bucket ourselves instead of using
  ``Limiter.try_acquire(blocking=True)``: that loop advances the stored timestamp by the
  *planned* sleep instead of re-reading the clock, so an oversleep or lock contention
  would record a request as sent earlier than it was — the unsafe direction. Here every
  admitted request is stamped with the clock read under our lock at the moment it is
  admitted, and the wait comes from the bucket's own ``waiting()``.
* Safety margin: the server sees a request at ``send + d`` with a delay ``d`` in
  ``[0, D]``. Requests arriving within any server window of length ``W`` were sent within
  ``W + D``, so admitting at most ``L`` per ``W + margin_ms`` (margin ≥ D) keeps every
  server window at ``≤ L``. We also keep ``limit_margin`` (default 1) below the limit.
  Defaults: at most 24 per 5.3 s and 299 per 60.3 s.
* ``pause(seconds)``: a 429 means the server is cooling down; every thread waits it out
  instead of sending more into the cooldown.
* :func:`shared_limiter` keeps one limiter per base URL (one org per base URL and key in
  this project) in a module-level registry.

Scope: one process, or every process of a host that names the same ``shared_file``.
Dagster runs each step's run in a process of its own. The project runs posting steps one
at a time (the Dagster concurrency pool ``verkada_helix``), but one posting run can start
the moment the previous one ends: with only its own memory, the new process would send a
whole window of requests on top of the previous process's last window (two 429s in a
720-hour backfill once Dagster stored each run's materializations in one batch). With
``shared_file`` the counts live in pyrate-limiter's ``SQLiteBucket`` in that file, under
its file lock, stamped with the wall clock (the one clock every process reads alike):
each process counts every process's requests, and ``verkada_cameras`` (another process,
outside the pool) is counted too. The project's definitions put the file beside the
warehouse, on the same disk the posting runs write.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from pyrate_limiter import AbstractBucket, InMemoryBucket, Rate, RateItem, SQLiteBucket
from pyrate_limiter.clocks import MonotonicClock

log = logging.getLogger(__name__)

_ITEM_NAME = "verkada"


@dataclass(frozen=True)
class RateLimitSettings:
    """The limits and the margins kept below them."""

    requests_per_5s: int | None = 25
    requests_per_minute: int | None = 300
    limit_margin: int = 1
    margin_ms: int = 300
    shared_file: str | None = None  # a SQLite file the processes of this host count in together

    def rates(self) -> list[Rate]:
        """The pyrate-limiter rates to enforce, margins applied.

        pyrate-limiter wants rates whose density (limit/interval) does not increase with
        the interval. A longer rate that the shorter one already implies
        (``L1 * ceil(W2 / W1) <= L2``, true for Verkada's 25/5 s and 300/min) is dropped;
        one that is binding but denser is tightened to the shorter rate's density.
        """
        wanted = []
        for limit, window_ms in ((self.requests_per_5s, 5_000), (self.requests_per_minute, 60_000)):
            if limit is None:
                continue
            if limit < 1:
                raise ValueError(f"rate limit must be at least 1 request, got {limit}")
            wanted.append((max(1, limit - self.limit_margin), window_ms + self.margin_ms))
        wanted.sort(key=lambda r: r[1])
        kept: list[tuple[int, int]] = []
        for limit, window in wanted:
            if kept:
                prev_limit, prev_window = kept[-1]
                if prev_limit * -(-window // prev_window) <= limit:
                    continue  # implied by the shorter window
                if limit * prev_window > prev_limit * window:
                    limit = prev_limit * window // prev_window
                if limit <= prev_limit:
                    kept.pop()  # the longer window implies the shorter one
            kept.append((limit, window))
        return [Rate(limit, window) for limit, window in kept]


class VerkadaRateLimiter:
    """Blocking, thread-safe limiter: call :meth:`acquire` before every HTTP attempt.

    ``clock`` returns milliseconds (monotonic, or the wall clock when the counts are shared
    in ``settings.shared_file``, kept apart per ``org``); ``sleep`` takes seconds. Both can
    be replaced by fakes in tests.
    """

    def __init__(
        self,
        settings: RateLimitSettings = RateLimitSettings(),
        *,
        org: str = "",
        clock: Callable[[], int] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings
        self._rates = settings.rates()
        self._bucket = _bucket(self._rates, settings.shared_file, org) if self._rates else None
        self._clock = clock or (_wall_clock_ms if settings.shared_file else MonotonicClock().now)
        self._sleep = sleep
        self._lock = threading.Lock()
        self._paused_until_ms = 0
        self._admitted = 0
        self.waited_s = 0.0  # total time callers spent waiting in acquire (for metadata)

    @property
    def admitted(self) -> int:
        """How many requests this limiter has let through."""
        return self._admitted

    def pause(self, seconds: float) -> None:
        """Hold every caller for ``seconds`` from now (e.g. after a 429)."""
        with self._lock:
            until = self._clock() + int(seconds * 1000)
            if until > self._paused_until_ms:
                self._paused_until_ms = until

    def acquire(self, *_: object) -> None:
        """Block until one more request may be sent now, and count it as sent now."""
        while True:
            with self._lock:
                now = self._clock()
                wait_ms = self._paused_until_ms - now
                if wait_ms <= 0:
                    if self._bucket is None:
                        self._admitted += 1
                        return
                    item = RateItem(_ITEM_NAME, now)
                    if self._bucket.put(item):
                        self._admitted += 1
                        if self._admitted % 64 == 0:
                            self._bucket.leak(now)
                        return
                    wait_ms = self._bucket.waiting(item)
                    assert isinstance(wait_ms, int)  # an InMemoryBucket answers at once
                    if wait_ms < 0:  # cannot happen with weight 1 and limits >= 1
                        raise RuntimeError("rate limiter can never admit a request")
                    wait_ms = max(wait_ms, 1)
            self.waited_s += wait_ms / 1000
            self._sleep(wait_ms / 1000)

    def __repr__(self) -> str:
        return f"VerkadaRateLimiter({self._rates})"


def _bucket(rates: list[Rate], shared_file: str | None, org: str) -> AbstractBucket:
    if shared_file is None:
        return InMemoryBucket(rates)
    Path(shared_file).parent.mkdir(parents=True, exist_ok=True)
    table = "verkada_requests_" + hashlib.sha256(org.encode()).hexdigest()[:16]
    return SQLiteBucket.init_from_file(rates, table=table, db_path=shared_file, use_file_lock=True)


def _wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


_registry: dict[str, VerkadaRateLimiter] = {}
_registry_lock = threading.Lock()


def _registry_key(base_url: str) -> str:
    parts = urlsplit(base_url)
    return f"{parts.scheme.lower()}://{(parts.netloc or '').lower()}{parts.path.rstrip('/')}"


def shared_limiter(base_url: str, settings: RateLimitSettings = RateLimitSettings()) -> VerkadaRateLimiter:
    """The process-wide limiter for the organisation behind ``base_url``.

    The first caller's settings win; a later caller asking for different settings gets
    the existing limiter and a warning (two limiters for one org would each allow the
    full rate, which is exactly what must not happen).
    """
    key = _registry_key(base_url)
    with _registry_lock:
        limiter = _registry.get(key)
        if limiter is None:
            limiter = _registry[key] = VerkadaRateLimiter(settings, org=key)
        elif limiter.settings != settings:
            log.warning(
                "Verkada rate limiter for %s already exists with %s; ignoring %s",
                key,
                limiter.settings,
                settings,
            )
        return limiter


def reset_shared_limiters() -> None:
    """Forget every shared limiter (tests only)."""
    with _registry_lock:
        _registry.clear()
