"""One Verkada request: rate-limited, counted, authenticated with the token, retried by urllib3.

Every HTTP attempt (retries included) passes the process-wide rate limiter of the base URL
and is counted in ``requests_made``; a 429 pauses every caller of the org. A 401 renews
the token once and retries once. Errors carry the server's ``message``, never a secret.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import urljoin, urlsplit

import orjson
import requests

from jd_helix.clients.http_session import make_retry, make_session
from jd_helix.clients.unreachable import down, unreachable
from jd_helix.clients.verkada.errors import (
    API_KEY_ENV,
    BASE_URL_ENV,
    VerkadaAuthError,
    VerkadaError,
    parse_json,
    server_message,
)
from jd_helix.clients.verkada.rate_limit import VerkadaRateLimiter
from jd_helix.clients.verkada.settings import VerkadaClientSettings
from jd_helix.clients.verkada.token import TokenCache

log = logging.getLogger(__name__)


class VerkadaTransport:
    """Sends requests for one client: its HTTP session, token, counters and limiter."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        settings: VerkadaClientSettings,
        limiter: VerkadaRateLimiter,
        monotonic: Callable[[], float],
    ) -> None:
        self.base_url = base_url
        self._api_key = api_key
        self.limiter = limiter
        self._default_429_wait_s = settings.default_429_wait_s
        self._counter_lock = threading.Lock()
        self.requests_made = 0  # HTTP requests actually sent, retries included
        self.rate_limited = 0  # 429 responses received (each waited out and retried)
        self._session = make_session(
            timeout=settings.timeout,
            retry=make_retry(settings.max_retries, default_429_wait_s=settings.default_429_wait_s),
            before_attempt=self._before_attempt,
            after_attempt=self._after_attempt,
            headers={"accept": "application/json", "user-agent": "jd_helix"},
        )
        self.token = TokenCache(
            self._session,
            base_url,
            api_key,
            lifetime_s=settings.token_lifetime_s,
            renew_margin_s=settings.token_renew_margin_s,
            monotonic=monotonic,
        )

    def close(self) -> None:
        self._session.close()

    # -- hooks around every attempt ----------------------------------------------

    def _before_attempt(self, method: str, url: str) -> None:
        self.limiter.acquire()
        with self._counter_lock:
            self.requests_made += 1

    def _after_attempt(self, status: int, headers: Mapping[str, str]) -> None:
        if status != 429:
            return
        with self._counter_lock:
            self.rate_limited += 1
        wait = self._default_429_wait_s
        retry_after = headers.get("Retry-After")
        if retry_after and retry_after.strip().isdigit():
            wait = float(retry_after.strip())
        log.info("Verkada answered 429; every caller of this org pauses %.1f s", wait)
        self.limiter.pause(wait)

    # -- requests -------------------------------------------------------------------

    def redact(self, text: str) -> str:
        return self.token.redact(text)

    def url(self, path_or_url: str) -> str:
        if path_or_url.startswith(("http://", "https://")):
            return path_or_url
        if path_or_url.startswith("/"):
            return self.base_url + path_or_url
        return urljoin(self.base_url + "/", path_or_url)

    def send(
        self, method: str, path: str, *, params: Any = None, json_body: Any = None, auth: bool = True
    ) -> requests.Response:
        """Send with the token; on a 401 renew the token once and retry once.

        Network failures left after urllib3's retries raise VerkadaError.
        """
        url = self.url(path)
        data = orjson.dumps(json_body) if json_body is not None else None
        headers = {"content-type": "application/json"} if data is not None else {}
        token = None
        for attempt in (1, 2):
            if auth:
                token = self.token.current(stale=token)
                headers["x-verkada-auth"] = token
            try:
                response = self._session.request(method, url, params=params, data=data, headers=headers)
            except requests.RequestException as exc:
                raise VerkadaError(
                    unreachable("Verkada", f"{method} {urlsplit(url).path}", url, BASE_URL_ENV, exc)
                ) from None
            if response.status_code == 401 and auth and attempt == 1:
                log.info("Verkada answered 401 to %s %s; renewing the token once", method, urlsplit(url).path)
                continue
            if response.status_code == 401 and auth:
                message, error_id = server_message(response)
                raise VerkadaAuthError(
                    f"Verkada refused a fresh token for {method} {urlsplit(url).path} ({self.redact(message)}); "
                    f"check {API_KEY_ENV}",
                    status=401,
                    error_id=error_id,
                )
            return response
        raise AssertionError("unreachable")

    def call(self, method: str, path: str, *, ok: Sequence[int] = (200,), **kwargs: Any) -> Any:
        """Send and return the JSON body, or raise VerkadaError with the server's message."""
        response = self.send(method, path, **kwargs)
        if response.status_code not in ok:
            raise self.error(response, f"{method} {path}")
        if not response.content:
            return {}
        return parse_json(response, f"{method} {path}")

    def error(self, response: requests.Response, what: str) -> VerkadaError:
        """The error for an unexpected ``response`` to ``what``, with the server's message."""
        message, error_id = server_message(response)
        cls = VerkadaAuthError if response.status_code == 401 else VerkadaError
        return cls(
            self.redact(down("Verkada", what, self.base_url, response.status_code, message))
            if response.status_code >= 500
            else f"Verkada {what} failed ({response.status_code}): {self.redact(message)}",
            status=response.status_code,
            error_id=error_id,
        )
