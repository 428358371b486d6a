"""How much one client, and all of them together, may ask of `jd-helix serve`.

The defaults suit a dashboard or two per key on a small machine; `jd-helix serve` takes
each as an option (see the README's HTTP API section).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ApiLimits:
    # Per API key: requests in any minute; beyond it a 429 with Retry-After.
    requests_per_key_per_minute: int = 600
    # All clients: requests being answered at once; beyond it a 503 with Retry-After at once,
    # rather than a queue whose wait grows with the crowd.
    max_in_flight: int = 16
    # Seconds a client is asked to wait after a 503 for load.
    shed_retry_after_s: int = 1
    # Browser origins allowed to read answers (CORS); none by default.
    cors_origins: tuple[str, ...] = ()
