"""The JD Sports retail API client (docs/jd-api.md): auth, paging, errors.

Retries (429 with Retry-After, 5xx, dropped connections, timeouts) live in the session's
urllib3 Retry; this module only pages, decodes, and turns what is left into errors a
person can act on. It never prints the key.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import requests

from jd_helix.clients.http_session import make_session
from jd_helix.clients.unreachable import down, unreachable

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

    def pages(self, endpoint: str, params: Mapping[str, str] | None = None) -> Iterator[list[Any]]:
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
            raise JdApiError(unreachable("The JD API", where, self.base_url, "JD_API_BASE_URL", error)) from None
        if response.status_code in (401, 403):
            raise JdAuthError(
                f"{where}: the JD API refused the key (HTTP {response.status_code}). "
                "Check JD_API_KEY (and that JD_API_BASE_URL is the right API)."
            )
        if response.status_code >= 500:
            raise JdApiError(down("The JD API", where, self.base_url, response.status_code, _error_message(response)))
        if response.status_code != 200:
            raise JdApiError(f"{where}: HTTP {response.status_code}: {_error_message(response)}")
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
