"""The endpoints: the old app's three reports and what their users need beside them.

| old Flask endpoint                    | here                                              |
| ------------------------------------- | ------------------------------------------------- |
| list transactions                     | GET /v1/transactions                              |
| sales information for a store         | GET /v1/stores/{store_id}/sales (and .../transactions) |
| stores with at least one transaction  | GET /v1/stores                                    |
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated

import duckdb
import orjson
from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse, Response

from jd_helix.api import queries
from jd_helix.api.auth import require_api_key
from jd_helix.api.cursor import decode_cursor, encode_cursor
from jd_helix.api.errors import ApiError, Problem, bad_parameter, not_found
from jd_helix.api.models import (
    Granularity,
    Health,
    HealthStatus,
    HelixStatus,
    Page,
    RejectedRecord,
    Status,
    StoreSales,
    StoreWithSales,
    Transaction,
)
from jd_helix.api.page_cache import CachedPage
from jd_helix.api.params import DEFAULT_LIMIT, MAX_LIMIT, Window, format_instant
from jd_helix.api.query_guard import reject_unknown_parameters
from jd_helix.api.replica import NoSnapshot, RefreshOutcome, ReplicaKeeper, Snapshot

_problem = {"model": Problem}
router = APIRouter(
    prefix="/v1",
    dependencies=[Depends(require_api_key), Depends(reject_unknown_parameters)],
    responses={400: _problem, 401: _problem, 403: _problem, 429: _problem, 503: _problem},
)
health_router = APIRouter()

# Declared as date-time (a bare date is accepted too, as its midnight UTC); read by params.py
# so that a bad value gets a message naming it.
_INSTANT = {"format": "date-time"}
Start = Annotated[
    str | None,
    Query(
        description="From this instant on (inclusive): ISO 8601 with Z or an offset, or a date (its midnight UTC). "
        "A 400 unless earlier than `end`, and within years 1-9999 once in UTC.",
        min_length=1,
        examples=["2026-11-28T09:00:00Z"],
        json_schema_extra=_INSTANT,
    ),
]
End = Annotated[
    str | None,
    Query(
        description="Up to this instant (exclusive), as `start`: a 400 unless later than `start`.",
        min_length=1,
        examples=["2026-11-28T12:00:00Z"],
        json_schema_extra=_INSTANT,
    ),
]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Rows per page.")]
Cursor = Annotated[
    str | None,
    Query(
        min_length=1,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="`next_cursor` of the previous page, with the same filters: any other value is a 400.",
    ),
]
StoreFilter = Annotated[
    str | None, Query(min_length=1, description="Only this store (a 400 if no such store is known).")
]
StoreInPath = Annotated[str, Path(min_length=1, description="A store id, as in /v1/stores.")]


@contextmanager
def _snapshot(request: Request) -> Iterator[tuple[Snapshot, duckdb.DuckDBPyConnection]]:
    keeper: ReplicaKeeper = request.app.state.replica
    try:
        with keeper.reader() as (snapshot, conn):
            yield snapshot, conn
    except NoSnapshot as error:
        raise ApiError(503, "No data yet", str(error), headers={"Retry-After": "5"}, kind="no-data") from None
    except duckdb.CatalogException as error:
        raise ApiError(
            503,
            "Warehouse incomplete",
            f"{str(error).splitlines()[0]} (has the pipeline run yet?)",
            kind="warehouse-incomplete",
        ) from None


def _page(rows: queries.Rows, limit: int, report: str, filters: list) -> CachedPage:
    """The page without its closing brace: `as_of` moves on while the page stays right."""
    more = len(rows.items) > limit
    next_cursor = encode_cursor(report, filters, rows.keys[limit - 1]) if more else None
    body = orjson.dumps({"items": rows.items[:limit], "next_cursor": next_cursor})[:-1]
    # Weak: the rows are the same, `as_of` may have moved on.
    etag = f'W/"{hashlib.blake2b(body, digest_size=16).hexdigest()}"'
    return CachedPage(body, etag, next_cursor)


def _matches(if_none_match: str | None, etag: str) -> bool:
    """RFC 9110's weak comparison of If-None-Match with the page's ETag."""
    if if_none_match is None:
        return False
    tags = [tag.strip().removeprefix("W/") for tag in if_none_match.split(",")]
    return "*" in tags or etag.removeprefix("W/") in tags


def _serve_page(
    request: Request, report: str, filters: list, after, limit: int, read, store: tuple | None = None
) -> Response:
    """A page of `read(conn, limit + 1)`, from the snapshot's cache when asked before.

    `store` is ("filter" | "path", store_id) when the request names a store that must exist.
    A client that has the page (`If-None-Match` its ETag) gets a 304; a page with more
    after it links the next in `Link: <...>; rel="next"`.
    """
    with _snapshot(request) as (snapshot, conn):
        if store is not None:
            _check_store(snapshot, conn, *store)
        key = (report, tuple(filters), after, limit)
        page = snapshot.cache.get_or_compute(key, lambda: _page(read(conn, limit + 1), limit, report, filters))
        as_of = format_instant(snapshot.as_of)
    headers = {"ETag": page.etag, "Cache-Control": "private, no-cache"}
    if page.next_cursor is not None:
        following = request.url.include_query_params(cursor=page.next_cursor)
        headers["Link"] = f'<{following.path}?{following.query}>; rel="next"'
    if _matches(request.headers.get("if-none-match"), page.etag):
        return Response(status_code=304, headers=headers)
    return Response(page.body + b',"as_of":"' + as_of.encode() + b'"}', media_type="application/json", headers=headers)


def _instant_key(text: str) -> datetime:
    try:
        instant = datetime.fromisoformat(text)
    except ValueError:
        raise bad_parameter("cursor", "not a cursor this API gave out") from None
    if instant.tzinfo is not None:
        raise bad_parameter("cursor", "not a cursor this API gave out")
    return instant


def _check_store(snapshot: Snapshot, conn: duckdb.DuckDBPyConnection, where: str, store_id: str) -> None:
    known = snapshot.cache.get_or_compute(
        ("store", store_id), lambda: CachedPage(b"1" if queries.store_known(conn, store_id) else b"0")
    )
    if known.body == b"1":
        return
    if where == "path":
        raise not_found(f"No store {store_id!r} is known (see /v1/stores).")
    raise bad_parameter("store_id", f"no store {store_id!r} is known (see /v1/stores)")


def serve_transaction_page(
    request: Request, report: str, filters: list, limit: int, cursor: str | None, read, store: tuple | None
) -> Response:
    """A page of `read(conn, after, limit + 1)`: transactions in (instant, transaction_id) order,
    `after` the cursor's last pair (None on the first page)."""
    after = None
    if cursor is not None:
        at, transaction_id = decode_cursor(cursor, report, filters, 2)
        after = (_instant_key(at), transaction_id)
    return _serve_page(request, report, filters, after, limit, lambda conn, rows: read(conn, after, rows), store)


def _transactions(request, start, end, store_id, helix_status, limit, cursor, store_in: str) -> Response:
    window = Window.parse(start, end)
    status = helix_status.value if helix_status else None
    return serve_transaction_page(
        request,
        "transactions",
        [*window.fingerprint(), store_id, status],
        limit,
        cursor,
        lambda conn, after, rows: queries.transactions(conn, window, store_id, status, after, rows),
        (store_in, store_id) if store_id is not None else None,
    )


StatusFilter = Annotated[
    HelixStatus | None,
    Query(description="Only sales with this Helix status (of the default event type: `helix.status`)."),
]


@router.get("/transactions", response_model=Page[Transaction], summary="Sales of a period, with their Helix status")
def list_transactions(
    request: Request,
    start: Start = None,
    end: End = None,
    store_id: StoreFilter = None,
    helix_status: StatusFilter = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Response:
    """Every sale with `start <= transaction_at < end`, oldest first (ties by transaction_id)."""
    return _transactions(request, start, end, store_id, helix_status, limit, cursor, "filter")


@router.get("/transactions/{transaction_id}", response_model=Transaction, responses={404: _problem}, summary="One sale")
def get_transaction(request: Request, transaction_id: str) -> dict:
    with _snapshot(request) as (_, conn):
        found = queries.transaction(conn, transaction_id)
    if found is None:
        raise not_found(f"No sale {transaction_id!r} is stored.")
    return found


def _sales(request, start, end, granularity, store_id, limit, cursor, store_in: str) -> Response:
    window = Window.parse(start, end)
    filters = [*window.fingerprint(), granularity.value, store_id]
    after = None
    if cursor is not None:
        at, store = decode_cursor(cursor, "sales", filters, 2)
        after = (_instant_key(at), store)
    return _serve_page(
        request,
        "sales",
        filters,
        after,
        limit,
        lambda conn, rows: queries.store_sales(conn, window, granularity, store_id, after, rows),
        (store_in, store_id) if store_id is not None else None,
    )


Periods = Annotated[Granularity, Query(description="One row per store and hour, or per store and UTC day.")]


@router.get("/sales", response_model=Page[StoreSales], summary="Sales per store per hour or day")
def list_sales(
    request: Request,
    start: Start = None,
    end: End = None,
    granularity: Periods = Granularity.HOUR,
    store_id: StoreFilter = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Response:
    """The periods that start in [start, end), whole, ordered by period then store."""
    return _sales(request, start, end, granularity, store_id, limit, cursor, "filter")


@router.get("/stores", response_model=Page[StoreWithSales], summary="Stores with at least one sale")
def list_stores(
    request: Request, start: Start = None, end: End = None, limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None
) -> Response:
    """Stores with sales in the hours that start in [start, end) (all time by default), by store id."""
    window = Window.parse(start, end)
    filters = window.fingerprint()
    after = decode_cursor(cursor, "stores", filters, 1)[0] if cursor is not None else None
    return _serve_page(
        request,
        "stores",
        filters,
        after,
        limit,
        lambda conn, rows: queries.stores_with_sales(conn, window, after, rows),
    )


@router.get(
    "/stores/{store_id}/sales",
    response_model=Page[StoreSales],
    responses={404: _problem},
    summary="One store's sales per hour or day",
)
def store_sales(
    request: Request,
    store_id: StoreInPath,
    start: Start = None,
    end: End = None,
    granularity: Periods = Granularity.DAY,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Response:
    return _sales(request, start, end, granularity, store_id, limit, cursor, "path")


@router.get(
    "/stores/{store_id}/transactions",
    response_model=Page[Transaction],
    responses={404: _problem},
    summary="One store's sales",
)
def store_transactions(
    request: Request,
    store_id: StoreInPath,
    start: Start = None,
    end: End = None,
    helix_status: StatusFilter = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Response:
    return _transactions(request, start, end, store_id, helix_status, limit, cursor, "path")


@router.get("/rejected-records", response_model=Page[RejectedRecord], summary="Records JD sent that could not be used")
def list_rejected_records(
    request: Request,
    start: Annotated[
        str | None,
        Query(
            min_length=1,
            description="Only records of sales hours from this instant on, and of reference-data refreshes made since; as `start` of /v1/transactions.",
            json_schema_extra=_INSTANT,
        ),
    ] = None,
    end: Annotated[
        str | None,
        Query(
            min_length=1,
            description="Only records of sales hours (and refreshes) before this instant; later than `start`.",
            json_schema_extra=_INSTANT,
        ),
    ] = None,
    endpoint: Annotated[
        str | None, Query(min_length=1, description="Only records of this JD endpoint, e.g. /v1/sales.")
    ] = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Response:
    """Ordered by hour (refreshes last), endpoint and record key."""
    window = Window.parse(start, end) if start is not None or end is not None else None
    filters = [*(window.fingerprint() if window else [None, None]), endpoint]
    after = tuple(decode_cursor(cursor, "rejected-records", filters, 3)) if cursor is not None else None
    return _serve_page(
        request,
        "rejected-records",
        filters,
        after,
        limit,
        lambda conn, rows: queries.rejected_records(conn, window, endpoint, after, rows),
    )


@router.get("/status", response_model=Status, summary="How fresh the served data is")
def status(request: Request) -> dict:
    keeper: ReplicaKeeper = request.app.state.replica
    with _snapshot(request) as (snapshot, conn):
        latest = queries.latest_sales_hour(conn)
        as_of = snapshot.as_of
    state = keeper.state
    return {
        "as_of": format_instant(as_of),
        "latest_sales_hour": format_instant(latest),
        "refresh": {
            "interval_s": request.app.state.refresh_interval_s,
            "last_attempt_at": format_instant(state.last_attempt_at),
            "last_outcome": state.last_outcome.value if state.last_outcome else None,
            "busy_since": format_instant(state.busy_since),
            "copies": state.copies,
        },
    }


@health_router.get(
    "/healthz", response_model=Health, responses={503: {"model": Health}}, summary="Readiness (no key needed)"
)
def health(request: Request) -> JSONResponse:
    """200 only while the served copy holds every table the reports read, and the warehouse is a DuckDB file."""
    keeper: ReplicaKeeper = request.app.state.replica
    as_of, missing = keeper.as_of, keeper.missing_tables
    if keeper.state.last_outcome is RefreshOutcome.INVALID:
        status, detail = HealthStatus.INVALID, keeper.why_no_snapshot()
    elif as_of is None:
        status, detail = HealthStatus.NO_DATA, keeper.why_no_snapshot()
    elif missing:
        status, detail = (
            HealthStatus.INCOMPLETE,
            f"The warehouse has no table {', '.join(missing)}: has the pipeline run yet?",
        )
    else:
        status, detail = HealthStatus.OK, None
    body = {"status": status.value, "as_of": format_instant(as_of), "detail": detail}
    return JSONResponse(body, status_code=200 if status is HealthStatus.OK else 503)
