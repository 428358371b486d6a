"""How a VerkadaClient behaves: timeouts, retries, rate limit, batching, polling, age limits.

One frozen object instead of twenty constructor arguments; the Dagster resource builds it
from its own fields.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from jd_helix.clients.base_url import checked_base_url
from jd_helix.clients.verkada.errors import VerkadaConfigError
from jd_helix.clients.verkada.limits import HELIX_MAX_EVENT_AGE, HELIX_MAX_FUTURE, MAX_BATCH_ITEMS, TOKEN_LIFETIME_S
from jd_helix.clients.verkada.rate_limit import RateLimitSettings


@dataclass(frozen=True)
class VerkadaClientSettings:
    # HTTP: (connect, read) timeouts of each attempt, and urllib3's retries per request.
    timeout: tuple[float, float] = (10.0, 30.0)
    max_retries: int = 5
    default_429_wait_s: float = 5.0  # a 429 without Retry-After waits this long
    rate_limit: RateLimitSettings = field(default_factory=RateLimitSettings)
    # Token: renewed this long before its expected end.
    token_lifetime_s: float = TOKEN_LIFETIME_S
    token_renew_margin_s: float = 180.0
    # Batch jobs: size, how many are submitted before polling, how they are polled.
    batch_size: int = MAX_BATCH_ITEMS
    # As many as the limiter's window holds (24 per 5.3 s): the window a posting run starts
    # with fills with submits at once instead of idling until the first job is due a poll,
    # and the rest of the run repeats that first window's pattern.
    max_jobs_in_flight: int = 24
    poll_first_after_s: float = 1.0
    poll_max_interval_s: float = 15.0
    job_timeout_s: float = 600.0
    # Single POSTs (when the batch endpoint is missing): outcomes reported per chunk.
    single_post_chunk: int = 50
    # Events outside Helix's window are skipped without a request (None: let Helix judge).
    max_event_age_s: float | None = HELIX_MAX_EVENT_AGE.total_seconds()
    max_future_s: float | None = HELIX_MAX_FUTURE.total_seconds()


def check_base_url(base_url: str) -> str:
    """``base_url`` without a trailing slash; plain http only for loopback (see base_url.py)."""
    try:
        return checked_base_url(base_url, "VERKADA_API_BASE_URL")
    except ValueError as error:
        raise VerkadaConfigError(str(error)) from None
