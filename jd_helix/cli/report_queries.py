"""The reports the old Flask app served, as SQL over the warehouse (`jd-helix report ...`).

| old endpoint                         | here                                  |
| ------------------------------------ | ------------------------------------- |
| list transactions                    | `jd-helix report transactions`        |
| sales information for a given store  | `jd-helix report store-sales STORE`   |
| stores with at least one transaction | `jd-helix report stores-with-sales`   |
| (new) records set aside              | `jd-helix report rejected-records`    |

The hourly `store_sales` asset builds its table with its own SQL (defs/hourly_sales/store_sales.py);
ONE_STORE_SALES_SQL here sums one store over any period from the joined sales.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import backoff
import duckdb
import pandas as pd

from jd_helix.resources.warehouse import open_read_only

TRANSACTIONS_SQL = """
SELECT e.transaction_id, e.transaction_at, e.transaction_amount, e.item_id, e.item_name,
       e.store_id, e.store_name, e.pos_id, e.pos_name, e.verkada_camera_id,
       coalesce(l.status, 'not yet posted') AS helix_status
FROM transaction_camera_events e
LEFT JOIN helix_events l USING (transaction_id)
WHERE e.transaction_at >= $start AND e.transaction_at < $end
ORDER BY e.transaction_at, e.transaction_id
"""

ONE_STORE_SALES_SQL = """
SELECT store_id, any_value(store_name) AS store_name, count(*) AS transactions,
       sum(transaction_amount)::DECIMAL(18, 2) AS sales_total,
       min(transaction_at) AS first_sale, max(transaction_at) AS last_sale
FROM transaction_camera_events
WHERE store_id = $store_id AND transaction_at >= $start AND transaction_at < $end
GROUP BY store_id
"""

STORES_WITH_SALES_SQL = """
SELECT s.store_id, s.store_name, s.store_address, count(*) AS transactions,
       sum(e.transaction_amount)::DECIMAL(18, 2) AS sales_total
FROM transaction_camera_events e
JOIN jd_stores s USING (store_id)
WHERE e.transaction_at >= $start AND e.transaction_at < $end
GROUP BY ALL
ORDER BY s.store_id
"""

# Records set aside for the hours of the period, and those of reference refreshes made in it.
REJECTED_RECORDS_SQL = """
SELECT endpoint, scope, field, reason, raw, rejected_at
FROM jd_rejected_records
WHERE CASE WHEN scope = 'refresh' THEN rejected_at
           ELSE try_strptime(scope, '%Y-%m-%d-%H:%M') END >= $start
  AND CASE WHEN scope = 'refresh' THEN rejected_at
           ELSE try_strptime(scope, '%Y-%m-%d-%H:%M') END < $end
ORDER BY endpoint, scope, field, reason
"""


class WarehouseUnreadable(RuntimeError):
    """The DuckDB file does not exist, or a run kept writing it for longer than we waited."""


@dataclass(frozen=True)
class WriterWait:
    """How long to wait while a run writes the file, and what to do (once) when we start waiting."""

    seconds: float = 0
    on_wait: Callable[[], None] = lambda: None


# While a run writes the file, look again after 0.5 s, 1 s, 2 s, then every 2 s.
_FIRST_WAIT_S, _LONGEST_WAIT_S = 0.5, 2.0


def _connect(database: str, wait: WriterWait) -> duckdb.DuckDBPyConnection:
    """A read-only connection; while a run holds the file, keep trying for `wait.seconds`."""
    if not Path(database).exists():
        raise WarehouseUnreadable(
            f"Cannot read {database}: it does not exist (no run has written it yet, or set --database / JD_HELIX_DUCKDB_PATH)."
        )
    open_when_free = backoff.on_predicate(
        backoff.expo, lambda conn: conn is None, max_time=wait.seconds, base=2, factor=_FIRST_WAIT_S,
        max_value=_LONGEST_WAIT_S, jitter=None, on_backoff=lambda details: wait.on_wait() if details["tries"] == 1 else None,
    )(open_read_only)
    conn = open_when_free(database)
    if conn is None:
        raise WarehouseUnreadable(
            f"Cannot read {database}: a run has been writing it for the {wait.seconds:g} s we waited. "
            "Try again when it pauses, or wait longer with --wait."
        )
    return conn


def _read(database: str, sql: str, params: dict, wait: WriterWait) -> pd.DataFrame:
    with _connect(database, wait) as conn:
        return conn.execute(sql, params).df()


def transactions(database: str, start: datetime, end: datetime, wait: WriterWait = WriterWait()) -> pd.DataFrame:
    """Every sale in [start, end) (naive UTC) with its store, till, camera and Helix status."""
    return _read(database, TRANSACTIONS_SQL, {"start": start, "end": end}, wait)


def store_sales(database: str, store_id: str, start: datetime, end: datetime, wait: WriterWait = WriterWait()) -> pd.DataFrame:
    """One store's sales count and total over [start, end)."""
    return _read(database, ONE_STORE_SALES_SQL, {"store_id": store_id, "start": start, "end": end}, wait)


def stores_with_sales(database: str, start: datetime, end: datetime, wait: WriterWait = WriterWait()) -> pd.DataFrame:
    """The stores with at least one sale in [start, end)."""
    return _read(database, STORES_WITH_SALES_SQL, {"start": start, "end": end}, wait)


def rejected_records(database: str, start: datetime, end: datetime, wait: WriterWait = WriterWait()) -> pd.DataFrame:
    """The JD records set aside for the hours in [start, end) (or by a refresh made then), with why."""
    return _read(database, REJECTED_RECORDS_SQL, {"start": start, "end": end}, wait)
