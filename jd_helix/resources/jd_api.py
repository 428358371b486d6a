"""The JD Sports retail API client (specs/jd-sports-api.md): auth, paging, errors.

Retries (429 with Retry-After, 5xx, dropped connections, timeouts) live in the session's
urllib3 Retry; this module only pages, decodes, and turns what is left into errors a
person can act on. It never prints the key.
"""

from __future__ import annotations

import threading
from typing import Any, Iterator, Mapping, Optional
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import dagster as dg
import orjson
import requests
from pydantic import Field

from jd_helix.resources.base_url import checked_base_url
from jd_helix.resources.http_session import make_session

MAX_PAGE_SIZE = 1000


class JdApiError(RuntimeError):
    """The JD API answered something the pipeline cannot use."""


class JdAuthError(JdApiError):
    """The JD API refused the key."""


class JdApiClient:
    """Pages through one JD endpoint at a time. Safe to share between threads."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        local_zone: ZoneInfo,
        page_size: int,
        max_retries: int,
        timeout: tuple[float, float],
        pool_size: int,
    ):
        self.base_url = base_url
        self.local_zone = local_zone
        self.page_size = page_size
        self.requests_made = 0
        self.pages_fetched = 0
        self._counter_lock = threading.Lock()  # windows are paged from several threads
        self._session = make_session(
            max_retries=max_retries,
            timeout=timeout,
            before_attempt=self._count_attempt,
            pool_maxsize=pool_size,
            headers={"X-API-Key": api_key, "Accept": "application/json"},
        )

    def _count_attempt(self, method: str, url: str) -> None:
        with self._counter_lock:
            self.requests_made += 1

    def pages(self, endpoint: str, params: Optional[Mapping[str, str]] = None) -> Iterator[list[Any]]:
        """Each page's `data` list, following `next_cursor` until it is null or absent."""
        query = {**(params or {}), "limit": str(self.page_size)}
        page_number = 1
        while True:
            body = self._get_page(endpoint, query, page_number)
            with self._counter_lock:
                self.pages_fetched += 1
            yield body["data"]
            cursor = body.get("next_cursor")
            if not cursor:
                return
            query = {**query, "cursor": cursor}
            page_number += 1

    def fetch_all(self, endpoint: str) -> list[Any]:
        return [record for page in self.pages(endpoint) for record in page]

    def _get_page(self, endpoint: str, query: Mapping[str, str], page_number: int) -> dict:
        where = f"JD API {endpoint} (page {page_number})"
        try:
            response = self._session.get(self.base_url + endpoint, params=query)
        except requests.RequestException as error:
            raise JdApiError(
                f"{where}: no answer from {self.base_url} after retries ({type(error).__name__})"
            ) from None
        if response.status_code in (401, 403):
            raise JdAuthError(
                f"{where}: the JD API refused the key (HTTP {response.status_code}). "
                "Check JD_API_KEY (and that JD_API_BASE_URL is the right API)."
            )
        if response.status_code != 200:
            raise JdApiError(
                f"{where}: HTTP {response.status_code}: {_error_message(response)}"
            )
        try:
            body = orjson.loads(response.content)
        except orjson.JSONDecodeError:
            raise JdApiError(
                f"{where}: the answer is not JSON (Content-Type "
                f"{response.headers.get('Content-Type', 'none')!r}, {len(response.content)} bytes)"
            ) from None
        if not isinstance(body, dict) or not isinstance(body.get("data"), list):
            raise JdApiError(f'{where}: the answer is not the {{"data": [...]}} envelope')
        cursor = body.get("next_cursor")
        if cursor is not None and not isinstance(cursor, str):
            raise JdApiError(f"{where}: next_cursor is not a string")
        return body

    def close(self) -> None:
        self._session.close()


def _error_message(response: requests.Response) -> str:
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return f"{len(response.content)} bytes of non-JSON"
    if isinstance(body, dict) and body.get("error"):
        return str(body["error"])[:500]
    return str(body)[:500]


class JdApiResource(dg.ConfigurableResource):
    """JD Sports retail API. The base URL and key are required: nothing is ever guessed."""

    base_url: Optional[str] = Field(
        default=None, description="JD_API_BASE_URL (required: the step fails, naming it, when unset)."
    )
    api_key: Optional[str] = Field(default=None, description="JD_API_KEY, sent as X-API-Key.")
    timezone: str = Field(
        default="UTC", description="JD_API_TIMEZONE: zone of transaction dates without an offset."
    )
    page_size: int = Field(default=MAX_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE)
    fetch_concurrency: int = Field(
        default=4, ge=1, le=16, description="Windows of sales fetched in parallel."
    )
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
            raise JdApiError(
                f"JD_API_TIMEZONE={self.timezone!r} is not a known IANA time zone"
            ) from None
        return JdApiClient(
            base_url,
            api_key,
            local_zone=local_zone,
            page_size=self.page_size,
            max_retries=self.max_retries,
            timeout=(self.connect_timeout_s, self.read_timeout_s),
            pool_size=self.fetch_concurrency,
        )
