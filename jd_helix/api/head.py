"""HEAD on every GET endpoint: answered as the GET (same status and headers), without the body.

FastAPI's routes answer only the methods they declare; declaring HEAD on each would also
list it in the OpenAPI description as an operation of its own.
"""

from __future__ import annotations


class HeadAsGetMiddleware:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def without_body(message):
            if message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, without_body)
