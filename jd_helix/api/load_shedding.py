"""Bounded concurrency: past `max_in_flight` requests being answered, a 503 at once.

A crowd beyond what the machine answers in time would otherwise queue in the thread pool,
and every client's wait would grow with it (200 clients: p99 7.9 s, issue 26). Turned
away at once with `Retry-After`, a client knows to come back; those let in are answered
quickly. /healthz is never turned away: it is how an orchestrator tells overload from death.
"""

from __future__ import annotations

from jd_helix.api.errors import Problem, problem_type, respond

EXEMPT_PATHS = ("/healthz",)


class LoadSheddingMiddleware:
    """Pure ASGI. One event loop runs every request's start and end, so a plain counter is exact."""

    def __init__(self, app, max_in_flight: int, retry_after_s: int):
        self.app = app
        self.max_in_flight = max_in_flight
        self.retry_after_s = retry_after_s
        self.in_flight = 0
        self.shed = 0  # requests turned away since the start

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"] in EXEMPT_PATHS:
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.max_in_flight:
            self.shed += 1
            problem = Problem(
                type=problem_type("overloaded"),
                status=503,
                title="Overloaded",
                detail=f"The API is answering as many requests as it can; try again in {self.retry_after_s} s.",
            )
            await respond(problem, {"Retry-After": str(self.retry_after_s)})(scope, receive, send)
            return
        self.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1
