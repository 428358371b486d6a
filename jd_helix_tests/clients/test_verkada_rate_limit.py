"""The shared Verkada rate limiter, paced against a fake clock."""

from __future__ import annotations

import bisect
import threading

from hypothesis import given, settings
from hypothesis import strategies as st

from jd_helix.clients.verkada.rate_limit import (
    RateLimitSettings,
    VerkadaRateLimiter,
    reset_shared_limiters,
    shared_limiter,
)


class FakeClock:
    def __init__(self) -> None:
        self.ms = 1_000_000
        self.lock = threading.Lock()

    def now(self) -> int:
        return self.ms

    def sleep(self, seconds: float) -> None:
        with self.lock:
            self.ms += max(1, round(seconds * 1000))


def _max_in_window(stamps: list[int], window_ms: int) -> int:
    """Most stamps in any half-open window [t, t + window_ms)."""
    stamps = sorted(stamps)
    return max(bisect.bisect_left(stamps, t + window_ms) - i for i, t in enumerate(stamps))


def _run(settings_: RateLimitSettings, n: int, gaps: list[int] | None = None) -> list[int]:
    clock = FakeClock()
    limiter = VerkadaRateLimiter(settings_, clock=clock.now, sleep=clock.sleep)
    stamps = []
    for i in range(n):
        if gaps:
            clock.ms += gaps[i % len(gaps)]
        limiter.acquire()
        stamps.append(clock.ms)
    return stamps


def test_default_rates_keep_a_margin_below_verkada() -> None:
    rates = RateLimitSettings().rates()
    # 25/5 s implies 300/min, so one rate remains, kept below the limit and widened
    assert [(r.limit, r.interval) for r in rates] == [(24, 5300)]
    both = RateLimitSettings(requests_per_5s=25, requests_per_minute=200).rates()
    assert [(r.limit, r.interval) for r in both] == [(24, 5300), (199, 60300)]
    assert RateLimitSettings(None, None).rates() == []


def test_pacing_never_exceeds_either_window() -> None:
    stamps = _run(RateLimitSettings(25, 300), 700)
    # The server's windows are 5 s and 60 s; we even keep the widened ones.
    assert _max_in_window(stamps, 5_300) <= 24
    assert _max_in_window(stamps, 60_000) <= 300
    # ... while still using the budget: 700 requests take < 3 minutes of fake time
    assert stamps[-1] - stamps[0] < 180_000


def test_minute_limit_binds_when_it_is_the_tighter_one() -> None:
    stamps = _run(RateLimitSettings(25, 120), 400)
    assert _max_in_window(stamps, 5_300) <= 24
    assert _max_in_window(stamps, 60_300) <= 119


@settings(max_examples=40, deadline=None)
@given(
    per_5s=st.integers(1, 40),
    per_min=st.one_of(st.none(), st.integers(1, 400)),
    margin=st.integers(0, 2),
    gaps=st.lists(st.integers(0, 900), min_size=1, max_size=8),
)
def test_property_no_window_ever_over_the_limit(per_5s, per_min, margin, gaps) -> None:
    s = RateLimitSettings(per_5s, per_min, limit_margin=margin, margin_ms=250)
    stamps = _run(s, 150, gaps)
    assert _max_in_window(stamps, 5_000) <= per_5s
    if per_min is not None:
        assert _max_in_window(stamps, 60_000) <= per_min


def test_pause_holds_every_caller() -> None:
    clock = FakeClock()
    limiter = VerkadaRateLimiter(RateLimitSettings(100, None), clock=clock.now, sleep=clock.sleep)
    limiter.acquire()
    start = clock.ms
    limiter.pause(5)
    limiter.acquire()
    assert clock.ms - start >= 5000


def test_threads_share_the_budget() -> None:
    """Real clock, tiny windows: 4 threads x 10 requests through one 5-per-300 ms limiter."""
    import time

    s = RateLimitSettings(requests_per_5s=None, requests_per_minute=None)
    limiter = VerkadaRateLimiter(s)
    from pyrate_limiter import InMemoryBucket, Rate

    limiter._bucket = InMemoryBucket([Rate(5, 300)])  # a fast rate for a quick test
    stamps: list[int] = []
    lock = threading.Lock()

    def work() -> None:
        for _ in range(10):
            limiter.acquire()
            with lock:
                stamps.append(time.monotonic_ns() // 1_000_000)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(stamps) == 40 and limiter.admitted == 40
    # stamps are taken just after admission, so allow a few ms of scheduling slack
    assert _max_in_window(stamps, 290) <= 5


def test_one_limiter_per_base_url() -> None:
    reset_shared_limiters()
    a = shared_limiter("http://127.0.0.1:1/verkada/")
    b = shared_limiter("HTTP://127.0.0.1:1/verkada")
    c = shared_limiter("http://127.0.0.1:2/verkada")
    assert a is b and a is not c
    reset_shared_limiters()


def test_a_new_process_counts_the_requests_an_ended_one_sent_into_the_same_window(tmp_path) -> None:
    """Two limiters on one shared file stand for two run processes, one after the other:
    the second must wait out the first one's last window instead of sending a whole window
    on top of it (what a posting run starting the moment the previous one ended did)."""
    shared = RateLimitSettings(25, 300, shared_file=str(tmp_path / "verkada-requests.sqlite"))
    clock = FakeClock()
    ended = VerkadaRateLimiter(shared, org="https://api.verkada.com", clock=clock.now, sleep=clock.sleep)
    sent = []
    for _ in range(24):
        ended.acquire()
        sent.append(clock.ms)
    clock.ms += 1_000

    starting = VerkadaRateLimiter(shared, org="https://api.verkada.com", clock=clock.now, sleep=clock.sleep)
    for _ in range(24):
        starting.acquire()
        sent.append(clock.ms)

    assert sent[24] >= sent[0] + 5_300  # the first window of the new process waited for the old one's
    assert _max_in_window(sent, 5_000) <= 24 and _max_in_window(sent, 5_300) <= 24


def test_each_organisation_is_counted_apart_in_a_shared_file(tmp_path) -> None:
    shared = RateLimitSettings(25, 300, shared_file=str(tmp_path / "verkada-requests.sqlite"))
    clock = FakeClock()
    for org in ("https://api.verkada.com", "https://api.eu.verkada.com"):
        limiter = VerkadaRateLimiter(shared, org=org, clock=clock.now, sleep=clock.sleep)
        for _ in range(24):
            limiter.acquire()
    assert clock.ms == 1_000_000  # 24 each, and neither waited for the other's
