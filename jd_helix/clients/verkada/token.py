"""The Verkada API token: fetched with the API key, cached, renewed before it expires.

Tokens last 30 minutes. A token refused before its expected end tells the real token
life: later tokens are renewed at 90 % of that age, so a server with short tokens costs
one 401, not one per token.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import requests

from jd_helix.clients.unreachable import down, unreachable
from jd_helix.clients.verkada.endpoints import TOKEN_PATH
from jd_helix.clients.verkada.errors import (
    API_KEY_ENV,
    BASE_URL_ENV,
    VerkadaAuthError,
    VerkadaError,
    parse_json,
    server_message,
)

log = logging.getLogger(__name__)


class TokenCache:
    """One token for one client, shared by its threads."""

    def __init__(
        self,
        session: requests.Session,
        base_url: str,
        api_key: str,
        *,
        lifetime_s: float,
        renew_margin_s: float,
        monotonic: Callable[[], float],
    ) -> None:
        self._session = session
        self._url = base_url + TOKEN_PATH
        self._api_key = api_key
        self._lifetime_s = lifetime_s
        self._renew_margin_s = min(renew_margin_s, lifetime_s / 2)
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self.value: str | None = None  # the cached token (for redaction)
        self._fetched_at = 0.0
        self._renew_at = 0.0
        self.renewals = 0  # how many tokens were fetched

    def current(self, stale: str | None = None) -> str:
        """A valid token; fetch one if none is cached, it is near expiry, or it is ``stale``."""
        with self._lock:
            if stale is not None and self.value == stale:
                age = self._monotonic() - self._fetched_at
                if 1.0 <= age < self._lifetime_s - self._renew_margin_s:
                    self._lifetime_s = age
                    self._renew_margin_s = age * 0.1
                    log.info("Verkada token expired after %.0f s; renewing earlier from now on", age)
            if self.value is None or self.value == stale or self._monotonic() >= self._renew_at:
                self._fetch()
            assert self.value is not None
            return self.value

    def redact(self, text: str) -> str:
        """``text`` with the API key and the token replaced by ``***``."""
        for secret in (self._api_key, self.value):
            if secret:
                text = text.replace(secret, "***")
        return text

    def _fetch(self) -> None:
        try:
            response = self._session.post(self._url, headers={"x-api-key": self._api_key})
        except requests.RequestException as exc:
            raise VerkadaError(
                self.redact(unreachable("Verkada", "token request", self._url, BASE_URL_ENV, exc))
            ) from None
        if response.status_code in (401, 403):
            message, error_id = server_message(response)
            raise VerkadaAuthError(
                f"Verkada refused the API key ({response.status_code}: {self.redact(message)}); "
                f"check {API_KEY_ENV} (and the region of VERKADA_API_BASE_URL)",
                status=response.status_code,
                error_id=error_id,
            )
        if response.status_code != 200:
            message, error_id = server_message(response)
            raise VerkadaError(
                self.redact(down("Verkada", "token request", self._url, response.status_code, message))
                if response.status_code >= 500
                else f"Verkada token request failed ({response.status_code}): {self.redact(message)}",
                status=response.status_code,
                error_id=error_id,
            )
        token = parse_json(response, "Verkada token").get("token")
        if not token or not isinstance(token, str):
            raise VerkadaError("Verkada token response carried no token", status=response.status_code)
        self.value = token
        self._fetched_at = self._monotonic()
        self._renew_at = self._fetched_at + self._lifetime_s - self._renew_margin_s
        self.renewals += 1
        log.debug("Fetched a Verkada API token")
