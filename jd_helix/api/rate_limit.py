"""A request budget per API key (pyrate-limiter's in-memory bucket, a sliding minute).

Every answer to a known key says where it stands, in the IETF draft's fields
(draft-ietf-httpapi-ratelimit-headers): `RateLimit-Policy: "per-key";q=600;w=60` and
`RateLimit: "per-key";r=<left>;t=<seconds until one more>`. Past the budget: a 429 with
`Retry-After`.
"""

from __future__ import annotations

import math
import threading
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass

from pyrate_limiter import Duration, InMemoryBucket, Rate, RateItem
from pyrate_limiter.clocks import MonotonicClock

POLICY = "per-key"
WINDOW_MS = int(Duration.MINUTE)


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    limit: int
    remaining: int
    reset_s: int  # until the oldest request of the window leaves it (one more may be sent)

    def headers(self) -> dict[str, str]:
        headers = {
            "RateLimit-Policy": f'"{POLICY}";q={self.limit};w={WINDOW_MS // 1000}',
            "RateLimit": f'"{POLICY}";r={self.remaining};t={self.reset_s}',
        }
        if not self.allowed:
            headers["Retry-After"] = str(self.reset_s)
        return headers


class KeyRateLimiter:
    """Thread-safe: the endpoints run in a thread pool."""

    def __init__(self, per_minute: int, clock: Callable[[], int] | None = None):
        self.per_minute = per_minute
        self._rate = Rate(per_minute, WINDOW_MS)
        self._clock = clock or MonotonicClock().now
        self._buckets: dict[str, InMemoryBucket] = {}  # one per key name: as many as the key ring has
        self._lock = threading.Lock()

    def check(self, key_name: str) -> Verdict:
        """Count one request of `key_name` now, if its budget allows."""
        now = self._clock()
        with self._lock:
            bucket = self._buckets.setdefault(key_name, InMemoryBucket([self._rate]))
            bucket.leak(now)
            allowed = bucket.put(RateItem(key_name, now))
            in_window = bucket.items[bisect_right(bucket.items, now - WINDOW_MS, key=lambda item: item.timestamp) :]
            oldest = in_window[0].timestamp if in_window else now
        reset_s = max(1, math.ceil((oldest + WINDOW_MS - now) / 1000)) if in_window else 0
        return Verdict(allowed, self.per_minute, max(0, self.per_minute - len(in_window)), reset_s)


class RateLimitHeadersMiddleware:
    """Pure ASGI: adds the budget's headers that auth.py left on the request to its answer."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})

        async def with_headers(message):
            headers = state.get("rate_limit_headers")
            if message["type"] == "http.response.start" and headers:
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [
                    (k.lower().encode(), v.encode()) for k, v in headers.items() if k.lower().encode() not in present
                ]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, with_headers)
