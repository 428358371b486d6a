"""The JD Sports retail API as a Dagster resource: settings in, a `JdApiClient` out."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import dagster as dg
from pydantic import Field

from jd_helix.clients.base_url import checked_base_url
from jd_helix.clients.jd.client import MAX_PAGE_SIZE, JdApiClient, JdApiError, JdAuthError


class JdApiResource(dg.ConfigurableResource):
    """JD Sports retail API. The base URL and key are required: nothing is ever guessed."""

    base_url: str | None = Field(
        default=None, description="JD_API_BASE_URL (required: the step fails, naming it, when unset)."
    )
    api_key: str | None = Field(default=None, description="JD_API_KEY, sent as X-API-Key.")
    timezone: str = Field(default="UTC", description="JD_API_TIMEZONE: zone of transaction dates without an offset.")
    page_size: int = Field(default=MAX_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE)
    fetch_concurrency: int = Field(default=4, ge=1, le=16, description="Windows of sales fetched in parallel.")
    max_retries: int = Field(default=6, ge=0)
    connect_timeout_s: float = 10.0
    read_timeout_s: float = 60.0

    def get_client(self) -> JdApiClient:
        if not self.base_url:
            raise JdApiError(
                "JD_API_BASE_URL is not set: set it and JD_API_KEY (for the built-in sandbox, "
                "start `make run` with no API settings at all)."
            )
        if not self.api_key:
            raise JdAuthError("JD_API_BASE_URL is set but JD_API_KEY is not: set JD_API_KEY.")
        base_url, api_key = checked_base_url(self.base_url, "JD_API_BASE_URL"), self.api_key
        try:
            local_zone = ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise JdApiError(f"JD_API_TIMEZONE={self.timezone!r} is not a known IANA time zone") from None
        return JdApiClient(
            base_url,
            api_key,
            local_zone=local_zone,
            page_size=self.page_size,
            max_retries=self.max_retries,
            timeout=(self.connect_timeout_s, self.read_timeout_s),
            pool_size=self.fetch_concurrency,
        )
