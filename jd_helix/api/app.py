"""The FastAPI application: routes, key check, error handlers, access log and the replica refresher."""

from __future__ import annotations

import threading
from contextlib import asynccontextmanager

from fastapi import FastAPI

from jd_helix.api.access_log import AccessLogMiddleware
from jd_helix.api.errors import install_error_handlers
from jd_helix.api.exceptions import exceptions_router
from jd_helix.api.keys import KeyRing
from jd_helix.api.replica import ReplicaKeeper
from jd_helix.api.routes import health_router, router

DESCRIPTION = """
Read-only reports over the jd_helix warehouse: sales with their Helix status, sales per
store per hour or day, stores with sales and the records set aside.

Send an API key in `X-API-Key` (or `Authorization: Bearer`). Lists are paged: pass the
`next_cursor` of a page as `cursor` (with the same filters) until it is null. Instants are
UTC (ISO 8601, `Z`); amounts are exact decimal strings. Every answer carries `as_of`: the
data is the warehouse as it was then (see `/v1/status`).
"""
BUSY_RETRY_S = 1.0


def create_app(
    replica: ReplicaKeeper,
    keys: KeyRing,
    refresh_interval_s: float = 30.0,
    run_replica: bool = True,
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

    app = FastAPI(title="jd_helix reports", version="1", description=DESCRIPTION, lifespan=lifespan)
    app.state.replica = replica
    app.state.keys = keys
    app.state.refresh_interval_s = refresh_interval_s
    app.include_router(router)
    app.include_router(exceptions_router)
    app.include_router(health_router)
    install_error_handlers(app)
    app.add_middleware(AccessLogMiddleware)
    _document_400_not_422(app)
    return app


def _document_400_not_422(app: FastAPI) -> None:
    """Bad parameters get a 400 problem (errors.py), not FastAPI's 422: say so in the OpenAPI description."""
    build = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is None:
            schema = build()
            for path in schema.get("paths", {}).values():
                for operation in path.values():
                    operation.get("responses", {}).pop("422", None)
            for unused in ("HTTPValidationError", "ValidationError"):
                schema.get("components", {}).get("schemas", {}).pop(unused, None)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi
