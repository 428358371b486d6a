"""The audit's share of the organisation's rate limit.

The audit (reading Helix back, re-posting what it lost) shares Verkada's 300 requests a
minute with posting. Its requests pass two limiters: its own budget (by default at most 3
per 5 s and 30 a minute, i.e. 10 % of the org's, kept with the usual margins: 2 per 5.3 s
in practice), then the org's limiter that every other request passes. So audit traffic
never takes more than its share, and together with posting never more than the org's
limit. With a ``shared_file`` both are counted there (each in a table of its own), so the
budget holds across the processes of the host as the org's limit does.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import replace

from jd_helix.clients.verkada.rate_limit import RateLimitSettings, VerkadaRateLimiter, _registry_key

DEFAULT_AUDIT_PER_5S = 3
DEFAULT_AUDIT_PER_MINUTE = 30  # 10 % of the org's 300


class BudgetedLimiter(VerkadaRateLimiter):
    """A limiter that admits a request once its own budget *and* the org's limiter do."""

    def __init__(
        self,
        budget: RateLimitSettings,
        org_limiter: VerkadaRateLimiter,
        *,
        org: str,
        clock: Callable[[], int] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(budget, org=org, clock=clock, sleep=sleep)
        self.org_limiter = org_limiter

    def acquire(self, *_: object) -> None:
        super().acquire()  # first the budget: waiting for it must not hold an org slot
        self.org_limiter.acquire()

    def pause(self, seconds: float) -> None:
        self.org_limiter.pause(seconds)  # a 429 cools down every caller of the org
        super().pause(seconds)


_registry: dict[str, BudgetedLimiter] = {}
_registry_lock = threading.Lock()


def audit_limiter(
    base_url: str, org_limiter: VerkadaRateLimiter, per_5s: int | None, per_minute: int | None
) -> BudgetedLimiter:
    """The process-wide audit limiter of the org behind ``base_url`` (the first caller's budget wins)."""
    key = _registry_key(base_url)
    with _registry_lock:
        limiter = _registry.get(key)
        if limiter is None or limiter.org_limiter is not org_limiter:
            budget = replace(org_limiter.settings, requests_per_5s=per_5s, requests_per_minute=per_minute)
            limiter = _registry[key] = BudgetedLimiter(budget, org_limiter, org=key + " audit")
        return limiter


def reset_audit_limiters() -> None:
    """Forget every audit limiter (tests only)."""
    with _registry_lock:
        _registry.clear()
