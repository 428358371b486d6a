"""The reports the old Flask app served, as SQL over the warehouse (`jd-helix report ...`).

| old endpoint                         | here                                  |
| ------------------------------------ | ------------------------------------- |
| list transactions                    | `jd-helix report transactions`        |
| sales information for a given store  | `jd-helix report store-sales STORE`   |
| stores with at least one transaction | `jd-helix report stores-with-sales`   |
| (new) records set aside              | `jd-helix report rejected-records`    |

The hourly `store_sales` asset builds its table with its own SQL (assets/store_sales.py);
ONE_STORE_SALES_SQL here sums one store over any period from the joined sales.
"""

from datetime import datetime

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


class WarehouseBusy(RuntimeError):
    """Another process is writing the DuckDB file right now."""


def _read(database: str, sql: str, params: dict) -> pd.DataFrame:
    conn = open_read_only(database)
    if conn is None:
        raise WarehouseBusy(f"Cannot read {database}: a run is writing it, or it does not exist yet.")
    with conn:
        return conn.execute(sql, params).df()


def transactions(database: str, start: datetime, end: datetime) -> pd.DataFrame:
    """Every sale in [start, end) (naive UTC) with its store, till, camera and Helix status."""
    return _read(database, TRANSACTIONS_SQL, {"start": start, "end": end})


def store_sales(database: str, store_id: str, start: datetime, end: datetime) -> pd.DataFrame:
    """One store's sales count and total over [start, end)."""
    return _read(database, ONE_STORE_SALES_SQL, {"store_id": store_id, "start": start, "end": end})


def stores_with_sales(database: str, start: datetime, end: datetime) -> pd.DataFrame:
    """The stores with at least one sale in [start, end)."""
    return _read(database, STORES_WITH_SALES_SQL, {"start": start, "end": end})


def rejected_records(database: str, start: datetime, end: datetime) -> pd.DataFrame:
    """The JD records set aside for the hours in [start, end) (or by a refresh made then), with why."""
    return _read(database, REJECTED_RECORDS_SQL, {"start": start, "end": end})
