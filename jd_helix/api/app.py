"""The FastAPI application: routes, key check, error handlers, access log and the replica refresher."""

from __future__ import annotations

import threading
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware
from starlette.middleware.gzip import GZipMiddleware

from jd_helix.api.access_log import AccessLogMiddleware
from jd_helix.api.docs import install_docs
from jd_helix.api.errors import PROBLEM_MEDIA_TYPE, install_error_handlers
from jd_helix.api.exceptions import exceptions_router
from jd_helix.api.head import HeadAsGetMiddleware
from jd_helix.api.header_limit import HeaderLimitMiddleware
from jd_helix.api.helix_audit_route import audit_router
from jd_helix.api.keys import KeyRing
from jd_helix.api.limits import ApiLimits
from jd_helix.api.load_shedding import LoadSheddingMiddleware
from jd_helix.api.rate_limit import KeyRateLimiter, RateLimitHeadersMiddleware
from jd_helix.api.replica import ReplicaKeeper
from jd_helix.api.routes import health_router, router

DESCRIPTION = """
Read-only reports over the jd_helix warehouse: sales with their Helix status, sales per
store per hour or day, stores with sales and the records set aside.

Send an API key in `X-API-Key` (or `Authorization: Bearer`). Lists are paged: pass the
`next_cursor` of a page as `cursor` (with the same filters) until it is null; the `Link`
header (`rel="next"`) has the next page's URL. Instants are UTC (ISO 8601, `Z`); amounts
are exact decimal strings. Every answer carries `as_of`: the data is the warehouse as it
was then (see `/v1/status`). A page has a (weak) `ETag`: send it in `If-None-Match` and an
unchanged page is a 304.

Errors are `application/problem+json` (RFC 9457). A 400 for a parameter the endpoint does
not take or that is given twice, an empty value, `start` not before `end`, a `store_id`
filter no store has, a `cursor` not from a page of the same query. A 429 past a key's
requests per minute (`RateLimit` and `RateLimit-Policy` headers on every answer,
`Retry-After` on the 429); a 503 with `Retry-After` when the server is at its limit of
requests in flight, or has no data yet.
"""
BUSY_RETRY_S = 1.0
# Every answer a browser page may read the headers of (CORS).
EXPOSED_HEADERS = ["ETag", "Link", "Retry-After", "RateLimit", "RateLimit-Policy"]


def create_app(
    replica: ReplicaKeeper,
    keys: KeyRing,
    refresh_interval_s: float = 30.0,
    run_replica: bool = True,
    limits: ApiLimits | None = None,
) -> FastAPI:
    """The app over `replica`.

    With `run_replica` the app runs the replica's life: a thread keeps it fresh while the
    app serves, and it is closed (its copy deleted) at shutdown. Without, the caller
    refreshes and closes it (tests do, to choose when data changes).
    """

    @asynccontextmanager
    async def lifespan(_: FastAPI):
        if not run_replica:
            yield
            return
        stop = threading.Event()
        refresher = threading.Thread(
            target=replica.run, args=(stop, refresh_interval_s, BUSY_RETRY_S), name="replica-refresher", daemon=True
        )
        refresher.start()
        try:
            yield
        finally:
            stop.set()
            refresher.join(timeout=30)
            replica.close()

    app = FastAPI(
        title="jd_helix reports", version="1", description=DESCRIPTION, lifespan=lifespan, docs_url=None, redoc_url=None
    )
    app.state.replica = replica
    app.state.keys = keys
    app.state.refresh_interval_s = refresh_interval_s
    limits = limits or ApiLimits()
    app.state.rate_limiter = KeyRateLimiter(limits.requests_per_key_per_minute)
    app.include_router(router)
    app.include_router(audit_router)
    app.include_router(exceptions_router)
    app.include_router(health_router)
    install_docs(app)
    install_error_handlers(app)
    # Added innermost first: a request meets the access log, CORS, the size limit of its
    # head, the load limit, the rate-limit headers, HEAD and gzip in that order.
    app.add_middleware(GZipMiddleware, minimum_size=1024)
    app.add_middleware(HeadAsGetMiddleware)
    app.add_middleware(RateLimitHeadersMiddleware)
    app.add_middleware(
        LoadSheddingMiddleware, max_in_flight=limits.max_in_flight, retry_after_s=limits.shed_retry_after_s
    )
    app.add_middleware(HeaderLimitMiddleware)
    if limits.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(limits.cors_origins),
            allow_methods=["GET", "HEAD"],
            allow_headers=["X-API-Key", "Authorization", "If-None-Match"],
            expose_headers=EXPOSED_HEADERS,
            max_age=600,
        )
    app.add_middleware(AccessLogMiddleware)
    _document_problems(app)
    return app


def _document_problems(app: FastAPI) -> None:
    """Say in the OpenAPI description what errors.py sends: a 400 problem (not FastAPI's
    422), every error as application/problem+json."""
    build = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is None:
            schema = build()
            for path in schema.get("paths", {}).values():
                for operation in path.values():
                    responses = operation.get("responses", {})
                    responses.pop("422", None)
                    for response in responses.values():
                        content = response.get("content", {})
                        if "Problem" in str(content.get("application/json")):  # not /healthz's own body
                            content[PROBLEM_MEDIA_TYPE] = content.pop("application/json")
            for unused in ("HTTPValidationError", "ValidationError"):
                schema.get("components", {}).get("schemas", {}).pop(unused, None)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi
