"""The reports of `jd-helix report`, read through the HTTP API's queries (api/queries.py):
one SQL per report, whether asked over HTTP or on the command line.

| old endpoint                         | here                                  | HTTP API                    |
| ------------------------------------ | ------------------------------------- | --------------------------- |
| list transactions                    | `jd-helix report transactions`        | GET /v1/transactions        |
| sales information for a given store  | `jd-helix report store-sales STORE`   | GET /v1/stores/{id}/sales, summed |
| stores with at least one transaction | `jd-helix report stores-with-sales`   | GET /v1/stores              |
| (new) records set aside              | `jd-helix report rejected-records`    | GET /v1/rejected-records    |

A report reads the whole period at once (no pages) and prints flat columns: a sale's Helix
fields as `helix_status`, `helix_reason`... (its default event type's), and its status per
event type as one `helix_by_type` text; amounts as numbers; a raw record as JSON text.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import backoff
import duckdb
import orjson
import pandas as pd

from jd_helix.api import queries
from jd_helix.api.models import Granularity
from jd_helix.api.params import Window
from jd_helix.resources.warehouse import open_read_only

# The whole period in one read: LIMIT's largest value.
EVERY_ROW = 2**63 - 1
_MONEY = ("transaction_amount", "sales_total")


class WarehouseUnreadable(RuntimeError):
    """The DuckDB file does not exist, or a run kept writing it for longer than we waited."""


@dataclass(frozen=True)
class WriterWait:
    """How long to wait while a run writes the file, and what to do (once) when we start waiting."""

    seconds: float = 0
    on_wait: Callable[[], None] = lambda: None


# While a run writes the file, look again after 0.5 s, 1 s, 2 s, then every 2 s.
_FIRST_WAIT_S, _LONGEST_WAIT_S = 0.5, 2.0


def connect_when_free(database: str, wait: WriterWait) -> duckdb.DuckDBPyConnection:
    """A read-only connection; while a run holds the file, keep trying for `wait.seconds`."""
    if not Path(database).exists():
        raise WarehouseUnreadable(
            f"Cannot read {database}: it does not exist (no run has written it yet, or set --database / JD_HELIX_DUCKDB_PATH)."
        )
    open_when_free = backoff.on_predicate(
        backoff.expo,
        lambda conn: conn is None,
        max_time=wait.seconds,
        base=2,
        factor=_FIRST_WAIT_S,
        max_value=_LONGEST_WAIT_S,
        jitter=None,
        on_backoff=lambda details: wait.on_wait() if details["tries"] == 1 else None,
    )(open_read_only)
    conn = open_when_free(database)
    if conn is None:
        raise WarehouseUnreadable(
            f"Cannot read {database}: a run has been writing it for the {wait.seconds:g} s we waited. "
            "Try again when it pauses, or wait longer with --wait."
        )
    # A missing table must be an error, not a Python object of the same name (queries.store_sales).
    conn.execute("SET python_enable_replacements = false")
    return conn


def _frame(items: list[dict]) -> pd.DataFrame:
    flat = [{**{k: v for k, v in item.items() if k != "helix"}, **_helix_columns(item.get("helix"))} for item in items]
    frame = pd.DataFrame(flat)
    if "helix_by_type" in frame:
        frame["helix_by_type"] = [_by_type_text(entries) for entries in frame["helix_by_type"]]
    for column in _MONEY:
        if column in frame:
            frame[column] = frame[column].astype(float)
    if "raw" in frame:  # the record as JD sent it, as JSON text (as the table holds it)
        frame["raw"] = [orjson.dumps(raw).decode() for raw in frame["raw"]]
    return frame


def _helix_columns(helix: dict | None) -> dict:
    return {f"helix_{name}": value for name, value in helix.items()} if helix else {}


def _by_type_text(entries: list[dict]) -> str:
    """A sale's status per event type in one cell, in declared order:
    `JD Sports Sale: posted; JD Sports Refund: failed (HTTP 503)`."""
    return "; ".join(
        f"{entry['event_type'] or entry['event_type_uid']}: {entry['status']}"
        + (f" ({entry['reason']})" if entry["reason"] and entry["status"] != "posted" else "")
        for entry in entries
    )


def _read(database: str, wait: WriterWait, read: Callable[[duckdb.DuckDBPyConnection], queries.Rows]) -> pd.DataFrame:
    with connect_when_free(database, wait) as conn:
        return _frame(read(conn).items)


def transactions(database: str, start: datetime, end: datetime, wait: WriterWait = WriterWait()) -> pd.DataFrame:
    """Every sale in [start, end) (naive UTC) with its store, till, cameras and Helix status."""
    return _read(
        database, wait, lambda conn: queries.transactions(conn, Window(start, end), None, None, None, EVERY_ROW)
    )


def store_sales(
    database: str, store_id: str, start: datetime, end: datetime, wait: WriterWait = WriterWait()
) -> pd.DataFrame:
    """One store's sales count and total over the hours that start in [start, end): the API's
    hourly rows of that store, summed."""
    with connect_when_free(database, wait) as conn:
        hours = queries.store_sales(conn, Window(start, end), Granularity.HOUR, store_id, None, EVERY_ROW).items
    if not hours:
        return pd.DataFrame()
    return _frame(
        [
            {
                "store_id": store_id,
                "store_name": next((h["store_name"] for h in hours if h["store_name"]), None),
                "transactions": sum(h["transactions"] for h in hours),
                "sales_total": str(sum(Decimal(h["sales_total"]) for h in hours)),
                "events_posted": sum(h["events_posted"] for h in hours),
                "first_hour": hours[0]["period_start"],  # the rows come in period order
                "last_hour": hours[-1]["period_start"],
            }
        ]
    )


def stores_with_sales(database: str, start: datetime, end: datetime, wait: WriterWait = WriterWait()) -> pd.DataFrame:
    """The stores with at least one sale in the hours that start in [start, end)."""
    return _read(database, wait, lambda conn: queries.stores_with_sales(conn, Window(start, end), None, EVERY_ROW))


def rejected_records(database: str, start: datetime, end: datetime, wait: WriterWait = WriterWait()) -> pd.DataFrame:
    """The JD records set aside for the hours in [start, end), and by refreshes made then, with why."""
    return _read(database, wait, lambda conn: queries.rejected_records(conn, Window(start, end), None, None, EVERY_ROW))
