"""The Verkada API (cameras and Helix) as a Dagster resource: settings in, a client out.

Usage::

    verkada = VerkadaResource(base_url=EnvVar("VERKADA_API_BASE_URL"), api_key=EnvVar("VERKADA_API_KEY"))
    with verkada.get_client() as client:       # a VerkadaClient; closing it closes its session
        cameras = client.list_cameras()
"""

from __future__ import annotations

from dataclasses import replace

import dagster as dg
from pydantic import Field

from jd_helix.clients.verkada.audit_budget import DEFAULT_AUDIT_PER_5S, DEFAULT_AUDIT_PER_MINUTE, audit_limiter
from jd_helix.clients.verkada.client import VerkadaClient
from jd_helix.clients.verkada.errors import API_KEY_ENV, VerkadaConfigError
from jd_helix.clients.verkada.limits import HELIX_MAX_EVENT_AGE, HELIX_MAX_FUTURE, MAX_BATCH_ITEMS
from jd_helix.clients.verkada.rate_limit import RateLimitSettings, shared_limiter
from jd_helix.clients.verkada.settings import VerkadaClientSettings, check_base_url


class VerkadaResource(dg.ConfigurableResource):
    """The Verkada API (cameras and Helix) for one organisation.

    ``base_url`` and ``api_key`` are required; ``get_client()`` names the one missing.
    ``get_client()`` returns a :class:`VerkadaClient` (a context manager: close it, or
    use ``with``). All clients of one base URL in a process share one rate limiter.
    """

    base_url: str | None = Field(default=None, description="Verkada API base URL (VERKADA_API_BASE_URL); required")
    api_key: str | None = Field(
        default=None, description="Verkada API key (VERKADA_API_KEY); required when base_url is set"
    )
    timeout_s: float = Field(default=30.0, description="read timeout of each HTTP attempt, seconds")
    connect_timeout_s: float = Field(default=10.0, description="connect timeout of each HTTP attempt, seconds")
    max_retries: int = Field(default=5, description="HTTP retries per request (429, 5xx, connection/read errors)")
    requests_per_5s: int | None = Field(default=25, description="org limit per 5 s window (None: no limit)")
    requests_per_minute: int | None = Field(default=300, description="org limit per minute (None: no limit)")
    rate_limit_margin_ms: int = Field(default=300, description="added to each window to absorb network jitter")
    rate_limit_file: str | None = Field(
        default=None,
        description="SQLite file in which every process of this host counts its requests to this org, so that "
        "the limit holds across processes (the project's definitions: beside the warehouse); None: this process only",
    )
    audit_requests_per_5s: int | None = Field(
        default=DEFAULT_AUDIT_PER_5S, description="the audit's share of the org limit per 5 s window"
    )
    audit_requests_per_minute: int | None = Field(
        default=DEFAULT_AUDIT_PER_MINUTE, description="the audit's share of the org limit per minute (10 % of 300)"
    )
    audit_sweep_requests_per_day: int | None = Field(
        default=None,
        ge=0,
        description="requests the daily audit sweep may spend on the stalest hours of the last 7 days; "
        "None: what the audit's share admits in a day less what the hourly audits take (defs/audit/sweep.py)",
    )
    batch_size: int = Field(
        default=MAX_BATCH_ITEMS, description=f"events per Helix batch job (at most {MAX_BATCH_ITEMS})"
    )
    token_renew_margin_s: float = Field(default=180.0, description="renew the 30-minute token this early")
    max_jobs_in_flight: int = Field(default=24, description="batch jobs submitted before polling them")
    max_event_age_days: float | None = Field(
        default=HELIX_MAX_EVENT_AGE.days,
        description="skip (without a request) events older than this, by the local clock; None: let Helix judge",
    )
    max_future_s: float | None = Field(
        default=HELIX_MAX_FUTURE.total_seconds(),
        description="skip events this far ahead of the local clock; None: let Helix judge",
    )

    def resolved_base_url(self) -> str:
        if not self.base_url:
            raise VerkadaConfigError(
                "VERKADA_API_BASE_URL is not set: set it and VERKADA_API_KEY (for the built-in "
                "sandbox, start `make run` with no API settings at all)."
            )
        return check_base_url(self.base_url)

    def _resolved_api_key(self) -> str:
        if self.api_key:
            return self.api_key
        if self.base_url:
            raise VerkadaConfigError(f"VERKADA_API_BASE_URL is set but {API_KEY_ENV} is not: set {API_KEY_ENV}")
        raise VerkadaConfigError(f"VERKADA_API_BASE_URL and {API_KEY_ENV} are not set: set both.")

    def client_settings(self) -> VerkadaClientSettings:
        return VerkadaClientSettings(
            timeout=(self.connect_timeout_s, self.timeout_s),
            max_retries=self.max_retries,
            rate_limit=RateLimitSettings(
                requests_per_5s=self.requests_per_5s,
                requests_per_minute=self.requests_per_minute,
                margin_ms=self.rate_limit_margin_ms,
                shared_file=self.rate_limit_file,
            ),
            batch_size=self.batch_size,
            token_renew_margin_s=self.token_renew_margin_s,
            max_jobs_in_flight=self.max_jobs_in_flight,
            max_event_age_s=None if self.max_event_age_days is None else self.max_event_age_days * 86_400,
            max_future_s=self.max_future_s,
        )

    def audit_rate_limits(self) -> RateLimitSettings:
        """The audit's own budget, with the org limiter's margins."""
        return replace(
            self.client_settings().rate_limit,
            requests_per_5s=self.audit_requests_per_5s,
            requests_per_minute=self.audit_requests_per_minute,
        )

    def get_client(self) -> VerkadaClient:
        """A new client (own HTTP session, token cache and counters; shared limiter)."""
        api_key = self._resolved_api_key()  # first: a missing key is the likelier mistake
        return VerkadaClient(self.resolved_base_url(), api_key, self.client_settings())

    def get_audit_client(self) -> VerkadaClient:
        """A client for the audit: every request within the audit's budget and the org's limit."""
        api_key = self._resolved_api_key()
        base_url, settings = self.resolved_base_url(), self.client_settings()
        limiter = audit_limiter(
            base_url,
            shared_limiter(base_url, settings.rate_limit),
            self.audit_requests_per_5s,
            self.audit_requests_per_minute,
        )
        return VerkadaClient(base_url, api_key, settings, limiter=limiter)
