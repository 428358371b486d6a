"""GET /v1/exceptions: the transactions the exception rules flagged (transaction_exceptions),
paged and filtered like the other lists. Kept apart from routes.py: one report, one file."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

import duckdb
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from jd_helix.api.auth import require_api_key
from jd_helix.api.models import Instant, Money, Page
from jd_helix.api.params import DEFAULT_LIMIT, Window, format_instant
from jd_helix.api.queries import Rows
from jd_helix.api.routes import Cursor, End, Limit, Start, StoreFilter, _problem, serve_transaction_page

exceptions_router = APIRouter(
    prefix="/v1",
    dependencies=[Depends(require_api_key)],
    responses={400: _problem, 401: _problem, 403: _problem, 503: _problem},
)


class ExceptionRule(StrEnum):
    """The exception rules (defs/exceptions/rules.py)."""

    REFUND = "refund"
    HIGH_VALUE = "high_value"
    PRICE_OVERRIDE = "price_override"
    AFTER_HOURS = "after_hours"
    REPEAT_REFUNDS = "repeat_refunds"


class FlaggedTransaction(BaseModel):
    transaction_id: str
    transaction_at: Instant
    transaction_amount: Money = Field(description="Negative for a refund.")
    item_id: str | None
    store_id: str | None
    store_name: str | None
    pos_id: str | None
    pos_name: str | None
    exceptions: list[ExceptionRule] = Field(description="The rules that flagged it.")


EXCEPTIONS_SELECT = """
SELECT transaction_id, transaction_at, transaction_amount, item_id, store_id, store_name, pos_id, pos_name, exceptions
FROM transaction_exceptions
"""


def flagged_transactions(
    conn: duckdb.DuckDBPyConnection,
    window: Window,
    store_id: str | None,
    rule: str | None,
    after: tuple[datetime, str] | None,
    limit: int,
) -> Rows:
    where = ["transaction_at >= $start", "transaction_at < $end"]
    params: dict = {"start": window.start, "end": window.end, "limit": limit}
    if store_id is not None:
        where.append("store_id = $store_id")
        params["store_id"] = store_id
    if rule is not None:
        where.append("list_contains(string_split(exceptions, ','), $rule)")
        params["rule"] = rule
    if after is not None:
        where.append("(transaction_at, transaction_id) > ($after_at, $after_id)")
        params["after_at"], params["after_id"] = after
    sql = f"{EXCEPTIONS_SELECT} WHERE {' AND '.join(where)} ORDER BY transaction_at, transaction_id LIMIT $limit"
    rows = conn.execute(sql, params).fetchall()
    items = [
        {
            "transaction_id": r[0],
            "transaction_at": format_instant(r[1]),
            "transaction_amount": f"{r[2]:.2f}",
            "item_id": r[3],
            "store_id": r[4],
            "store_name": r[5],
            "pos_id": r[6],
            "pos_name": r[7],
            "exceptions": r[8].split(","),
        }
        for r in rows
    ]
    return Rows(items, [[r[1].isoformat(), r[0]] for r in rows])


@exceptions_router.get(
    "/exceptions", response_model=Page[FlaggedTransaction], summary="Transactions flagged for loss prevention"
)
def list_exceptions(
    request: Request,
    start: Start = None,
    end: End = None,
    store_id: StoreFilter = None,
    rule: Annotated[ExceptionRule | None, Query(description="Only transactions this rule flagged.")] = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Response:
    """Flagged transactions with `start <= transaction_at < end`, oldest first (ties by transaction_id)."""
    window = Window.parse(start, end)
    rule_name = rule.value if rule else None
    return serve_transaction_page(
        request,
        "exceptions",
        [*window.fingerprint(), store_id, rule_name],
        limit,
        cursor,
        lambda conn, after, rows: flagged_transactions(conn, window, store_id, rule_name, after, rows),
        ("filter", store_id) if store_id is not None else None,
    )
