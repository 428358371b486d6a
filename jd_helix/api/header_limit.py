"""A request whose line and headers pass `max_bytes` is a 431, whatever its route.

h11 bounds what it buffers of a head that arrives in pieces (`h11_max_incomplete_event_size`),
but a head that arrives in one read is parsed whole, however large: this is the limit on
what the API accepts.
"""

from __future__ import annotations

from jd_helix.api.errors import Problem, problem_type, respond

MAX_HEAD_BYTES = 16 * 1024  # an API key and a cursor fit many times over


class HeaderLimitMiddleware:
    def __init__(self, app, max_bytes: int = MAX_HEAD_BYTES):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            size = len(scope.get("raw_path") or b"") + len(scope.get("query_string", b""))
            size += sum(len(name) + len(value) + 4 for name, value in scope["headers"])
            if size > self.max_bytes:
                problem = Problem(
                    type=problem_type("headers-too-large"),
                    status=431,
                    title="Request header fields too large",
                    detail=f"The request line and headers are over {self.max_bytes} bytes.",
                )
                await respond(problem)(scope, receive, send)
                return
        await self.app(scope, receive, send)
