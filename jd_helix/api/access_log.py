"""One access-log line per request, naming the API key that made it (never the key itself).

What the client chose (the path, the query) is escaped: a `%0A` or `%00` in a URL shows as
`\\x0a` / `\\x00`, so no request can write a line (or bytes) of its own into the log.
"""

from __future__ import annotations

import logging
import time
from urllib.parse import parse_qsl, urlencode

log = logging.getLogger("jd_helix.api.access")
# A client that puts a secret in the query string still must not get it logged.
_SECRET_WORDS = ("key", "token", "secret", "password")


# Control characters, the quote that ends the request field, the backslash of the escapes,
# and the rest of Unicode's line breaks, each as \xNN (or \uNNNN).
_UNSAFE = {c: f"\\x{c:02x}" for c in [*range(0x20), 0x22, 0x5C, 0x7F, *range(0x80, 0xA0)]} | {
    c: f"\\u{c:04x}" for c in (0x2028, 0x2029)
}


def escape(text: str) -> str:
    return text.translate(_UNSAFE)


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
                escape(scope["method"]),
                escape(scope["path"]),
                f"?{escape(query)}" if query else "",
                status,
                (time.perf_counter() - started) * 1000,
            )
