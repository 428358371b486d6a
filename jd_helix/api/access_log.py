"""One access-log line per request, naming the API key that made it (never the key itself)."""

from __future__ import annotations

import logging
import time
from urllib.parse import parse_qsl, urlencode

log = logging.getLogger("jd_helix.api.access")
# A client that puts a secret in the query string still must not get it logged.
_SECRET_WORDS = ("key", "token", "secret", "password")


def _safe_query(raw: bytes) -> str:
    pairs = parse_qsl(raw.decode("latin-1"), keep_blank_values=True)
    shown = [(k, "***" if any(w in k.lower() for w in _SECRET_WORDS) else v) for k, v in pairs]
    return urlencode(shown)


class AccessLogMiddleware:
    """Pure ASGI: `client key=NAME "GET /path?query" status duration`."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        state = scope.setdefault("state", {})

        async def record_status(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        finally:
            query = _safe_query(scope.get("query_string", b""))
            client = scope.get("client")
            log.info(
                '%s key=%s "%s %s%s" %d %.1fms',
                client[0] if client else "-",
                state.get("api_key_name", "-"),
                scope["method"],
                scope["path"],
                f"?{query}" if query else "",
                status,
                (time.perf_counter() - started) * 1000,
            )
