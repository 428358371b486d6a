"""The reports as SQL over a warehouse snapshot, read a page at a time by keyset.

Each report has a fixed order whose last columns make rows unique; a page is the rows
strictly after the previous page's last key, so paging costs the same on page 1 and 1000.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import duckdb
import orjson

from jd_helix.api.models import Granularity
from jd_helix.api.params import Window, format_instant
from jd_helix.domain.default_event_type import DEFAULT_EVENT_TYPE_UID_SQL, DEFAULT_TYPE_LEDGER_JOIN
from jd_helix.resources.warehouse import single_row


@dataclass(frozen=True)
class Rows:
    """A page of rows (as the API's JSON) and the sort key of each."""

    items: list[dict]
    keys: list[list[str]]


def _money(value) -> str:
    return f"{value:.2f}"


# -- transactions ----------------------------------------------------------------------

# One row per sale, whatever the number of event types: a page of sales is chosen first (with
# the status filter, by the default type's status), then joined once to the sales' ledger rows
# (one per event type that takes the sale), gathered into `helix_by_type` in declared order. The
# top-level Helix fields are the default type's row, as they were when there was one type. The
# ledger is joined by transaction_id, as the pipeline does: a sale JD re-reports in another hour
# keeps the ledger row (and hour) it was first pinned with.
TRANSACTIONS_PAGE = f"""
WITH page AS (
    SELECT e.transaction_id, e.transaction_at, e.transaction_amount, e.item_id, e.item_name,
           e.store_id, e.store_name, e.pos_id, e.pos_name, e.jd_camera_id, e.verkada_camera_id,
           e.unmapped_reason
    FROM transaction_camera_events e {{status_join}}
    WHERE {{where}}
    ORDER BY e.transaction_at, e.transaction_id
    LIMIT $limit
), deliveries AS (
    SELECT l.*, t.name, p.declared_position, l.event_type_uid IS NOT DISTINCT FROM {DEFAULT_EVENT_TYPE_UID_SQL} AS is_default
    FROM page
    JOIN helix_events l USING (transaction_id)
    LEFT JOIN helix_event_type t ON t.event_type_uid = l.event_type_uid
    LEFT JOIN helix_destination p ON p.event_type_uid = l.event_type_uid
)
SELECT page.*,
       coalesce(any_value(d.status) FILTER (d.is_default), 'not_in_ledger'), any_value(d.reason) FILTER (d.is_default),
       coalesce(any_value(d.attempts) FILTER (d.is_default), 0), any_value(d.posted_at) FILTER (d.is_default),
       any_value(d.footage_url) FILTER (d.is_default),
       coalesce(list({{{{'event_type': d.name, 'event_type_uid': d.event_type_uid, 'is_default': d.is_default,
                       'status': d.status, 'reason': d.reason, 'attempts': d.attempts, 'posted_at': d.posted_at,
                       'footage_url': d.footage_url, 'verkada_camera_id': d.verkada_camera_id, 'time_ms': d.time_ms}}}}
                     ORDER BY d.declared_position NULLS LAST, d.name, d.event_type_uid)
                FILTER (d.transaction_id IS NOT NULL), [])
FROM page LEFT JOIN deliveries d USING (transaction_id)
GROUP BY ALL
ORDER BY page.transaction_at, page.transaction_id
"""


def _delivery(entry: dict) -> dict:
    return {**entry, "posted_at": format_instant(entry["posted_at"])}


def _transaction(row: tuple) -> dict:
    return {
        "transaction_id": row[0],
        "transaction_at": format_instant(row[1]),
        "transaction_amount": _money(row[2]),
        "item_id": row[3],
        "item_name": row[4],
        "store_id": row[5],
        "store_name": row[6],
        "pos_id": row[7],
        "pos_name": row[8],
        "jd_camera_id": row[9],
        "verkada_camera_id": row[10],
        "unmapped_reason": row[11],
        "helix": {
            "status": row[12],
            "reason": row[13],
            "attempts": row[14],
            "posted_at": format_instant(row[15]),
            "footage_url": row[16],
        },
        "helix_by_type": [_delivery(entry) for entry in row[17]],
    }


def _transaction_rows(
    conn: duckdb.DuckDBPyConnection, where: list[str], params: dict, by_status: bool = False
) -> list[tuple]:
    sql = TRANSACTIONS_PAGE.format(where=" AND ".join(where), status_join=DEFAULT_TYPE_LEDGER_JOIN if by_status else "")
    return conn.execute(sql, params).fetchall()


def transactions(
    conn: duckdb.DuckDBPyConnection,
    window: Window,
    store_id: str | None,
    status: str | None,
    after: tuple[datetime, str] | None,
    limit: int,
) -> Rows:
    where = ["e.transaction_at >= $start", "e.transaction_at < $end"]
    params: dict = {"start": window.start, "end": window.end, "limit": limit}
    if store_id is not None:
        where.append("e.store_id = $store_id")
        params["store_id"] = store_id
    if status is not None:
        where.append("coalesce(l.status, 'not_in_ledger') = $status")  # the default type's (status_join)
        params["status"] = status
    if after is not None:
        where.append(
            "(e.transaction_at > $after_at OR (e.transaction_at = $after_at AND e.transaction_id > $after_id))"
        )
        params["after_at"], params["after_id"] = after
    rows = _transaction_rows(conn, where, params, by_status=status is not None)
    return Rows([_transaction(r) for r in rows], [[r[1].isoformat(), r[0]] for r in rows])


def transaction(conn: duckdb.DuckDBPyConnection, transaction_id: str) -> dict | None:
    rows = _transaction_rows(conn, ["e.transaction_id = $id"], {"id": transaction_id, "limit": 1})
    return _transaction(rows[0]) if rows else None


# -- sales per store and hour or day ---------------------------------------------------

_PERIOD = {
    Granularity.HOUR: ("sale_hour", "INTERVAL 1 HOUR"),
    Granularity.DAY: ("date_trunc('day', sale_hour)::TIMESTAMP", "INTERVAL 1 DAY"),
}


def store_sales(
    conn: duckdb.DuckDBPyConnection,
    window: Window,
    granularity: Granularity,
    store_id: str | None,
    after: tuple[datetime, str] | None,
    limit: int,
) -> Rows:
    """Per store and period (from the `store_sales` asset): periods that start in the window, whole."""
    period, length = _PERIOD[granularity]
    inner = ["sale_hour >= $start", f"sale_hour < $end + {length}"]
    outer = ["period_start >= $start", "period_start < $end"]
    params: dict = {"start": window.start, "end": window.end, "limit": limit}
    if store_id is not None:
        inner.append("store_id = $store_id")
        params["store_id"] = store_id
    if after is not None:
        outer.append(
            "(period_start > $after_at OR (period_start = $after_at AND coalesce(store_id, '') > $after_store))"
        )
        params["after_at"], params["after_store"] = after
    sql = f"""
    WITH periods AS (
        SELECT {period} AS period_start, store_id, any_value(store_name) AS store_name,
               sum(transactions)::BIGINT AS transactions, sum(sales_total) AS sales_total,
               sum(events_posted)::BIGINT AS events_posted
        FROM store_sales WHERE {" AND ".join(inner)} GROUP BY ALL
    )
    SELECT period_start, period_start + {length}, store_id, store_name, transactions, sales_total, events_posted
    FROM periods WHERE {" AND ".join(outer)}
    ORDER BY period_start, coalesce(store_id, '') LIMIT $limit
    """
    rows = conn.execute(sql, params).fetchall()
    items = [
        {
            "store_id": r[2],
            "store_name": r[3],
            "period_start": format_instant(r[0]),
            "period_end": format_instant(r[1]),
            "transactions": r[4],
            "sales_total": _money(r[5]),
            "events_posted": r[6],
        }
        for r in rows
    ]
    return Rows(items, [[r[0].isoformat(), r[2] or ""] for r in rows])


# -- stores with sales -----------------------------------------------------------------


def stores_with_sales(conn: duckdb.DuckDBPyConnection, window: Window, after: str | None, limit: int) -> Rows:
    """Stores with at least one sale in the hours that start in the window (from `store_sales`)."""
    where = ["s.store_id IS NOT NULL", "s.sale_hour >= $start", "s.sale_hour < $end"]
    params: dict = {"start": window.start, "end": window.end, "limit": limit}
    if after is not None:
        where.append("s.store_id > $after")
        params["after"] = after
    sql = f"""
    SELECT s.store_id, coalesce(any_value(st.store_name), any_value(s.store_name)), any_value(st.store_address),
           any_value(st.store_phone), any_value(st.store_email), sum(s.transactions)::BIGINT, sum(s.sales_total)
    FROM store_sales s LEFT JOIN jd_stores st ON st.store_id = s.store_id
    WHERE {" AND ".join(where)}
    GROUP BY s.store_id HAVING sum(s.transactions) > 0
    ORDER BY s.store_id LIMIT $limit
    """
    rows = conn.execute(sql, params).fetchall()
    columns = ["store_id", "store_name", "store_address", "store_phone", "store_email", "transactions"]
    items = [{**dict(zip(columns, r, strict=False)), "sales_total": _money(r[6])} for r in rows]
    return Rows(items, [[r[0]] for r in rows])


def store_known(conn: duckdb.DuckDBPyConnection, store_id: str) -> bool:
    """A store JD lists, or one that has sales on record."""
    return single_row(
        conn.execute(
            "SELECT EXISTS (SELECT 1 FROM jd_stores WHERE store_id = $id) "
            "OR EXISTS (SELECT 1 FROM store_sales WHERE store_id = $id)",
            {"id": store_id},
        )
    )[0]


# -- rejected records ------------------------------------------------------------------

REJECTED_SQL = """
WITH digested AS (
    SELECT endpoint, scope, try_strptime(scope, '%Y-%m-%d-%H:%M') AS hour, field, reason,
           raw::VARCHAR AS raw, rejected_at,
           md5(concat_ws('|', endpoint, scope, coalesce(field, ''), coalesce(reason, ''), raw::VARCHAR)) AS digest
    FROM jd_rejected_records
), keyed AS (
    -- identical records in one scope (JD can send a record twice) are told apart by position
    SELECT *, digest[:16] || '-' || row_number() OVER (PARTITION BY digest ORDER BY rejected_at) AS record_key
    FROM digested
)
SELECT record_key, endpoint, scope, hour, field, reason, raw, rejected_at FROM keyed
"""


def rejected_records(
    conn: duckdb.DuckDBPyConnection,
    window: Window | None,
    endpoint: str | None,
    after: tuple[str, ...] | None,  # (scope, endpoint, record_key), checked by decode_cursor
    limit: int,
) -> Rows:
    """Records set aside, in (scope, endpoint, record_key) order: hours in time order, then refreshes.

    With a window: the records of the hours in it, and those of reference refreshes made in it.
    """
    where = ["true"]
    params: dict = {"limit": limit}
    if window is not None:
        where += ["coalesce(hour, rejected_at) >= $start", "coalesce(hour, rejected_at) < $end"]
        params.update(start=window.start, end=window.end)
    if endpoint is not None:
        where.append("endpoint = $endpoint")
        params["endpoint"] = endpoint
    if after is not None:
        where.append("(scope, endpoint, record_key) > ($after_scope, $after_endpoint, $after_key)")
        params["after_scope"], params["after_endpoint"], params["after_key"] = after
    sql = f"{REJECTED_SQL} WHERE {' AND '.join(where)} ORDER BY scope, endpoint, record_key LIMIT $limit"
    rows = conn.execute(sql, params).fetchall()
    items = [
        {
            "record_key": r[0],
            "endpoint": r[1],
            "scope": r[2],
            "hour": format_instant(r[3]),
            "field": r[4],
            "reason": r[5],
            "raw": orjson.loads(r[6]) if r[6] is not None else None,
            "rejected_at": format_instant(r[7]),
        }
        for r in rows
    ]
    return Rows(items, [[r[2], r[1], r[0]] for r in rows])


def latest_sales_hour(conn: duckdb.DuckDBPyConnection) -> datetime | None:
    return single_row(conn.execute("SELECT max(sale_hour) FROM jd_transactions"))[0]
