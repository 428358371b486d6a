"""`store_sales`: the hour per store, the report the old app served as "sales for a store"."""


from datetime import datetime, timezone

import dagster as dg

from jd_helix.assets.helix import helix_events
from jd_helix.assets.metadata import column_schema, preview, window_metadata
from jd_helix.assets.sales import POOL, naive_utc
from jd_helix.partitions import hourly_backfill_policy, hourly_partitions
from jd_helix.resources.warehouse import WarehouseResource

STORE_SALES_SQL = """
SELECT e.sale_hour, e.store_id, any_value(e.store_name) AS store_name,
       count(*) AS transactions, sum(e.transaction_amount)::DECIMAL(18, 2) AS sales_total,
       count(*) FILTER (WHERE l.status = 'posted') AS events_posted, $built_at
FROM transaction_camera_events e
LEFT JOIN helix_events l USING (transaction_id)
WHERE e.sale_hour >= $start AND e.sale_hour < $end
GROUP BY e.sale_hour, e.store_id
"""


@dg.asset(
    partitions_def=hourly_partitions,
    backfill_policy=hourly_backfill_policy,
    deps=[helix_events],
    group_name="reports",
    kinds={"duckdb", "sql"},
    pool=POOL,
    owners=["team:retail-data"],
    description="Per store and hour: transactions, sales total and events posted to Helix.",
)
def store_sales(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    window = context.partition_time_window
    params = {
        "start": naive_utc(window.start),
        "end": naive_utc(window.end),
        "built_at": naive_utc(datetime.now(timezone.utc)),
    }
    bounds = {"start": params["start"], "end": params["end"]}
    with warehouse.write() as conn:
        conn.execute("DELETE FROM store_sales WHERE sale_hour >= $start AND sale_hour < $end", bounds)
        conn.execute(f"INSERT INTO store_sales {STORE_SALES_SQL}", params)
        rows, total = conn.execute(
            "SELECT count(*), coalesce(sum(sales_total), 0) FROM store_sales "
            "WHERE sale_hour >= $start AND sale_hour < $end",
            bounds,
        ).fetchone()
        schema = column_schema(conn, "store_sales")
        shown = conn.execute(
            "SELECT store_id, store_name, transactions, sales_total, events_posted FROM store_sales "
            "WHERE sale_hour >= $start AND sale_hour < $end ORDER BY sales_total DESC LIMIT 10",
            bounds,
        ).df()
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": rows,
            "dagster/column_schema": schema,
            **window_metadata(window.start, window.end),
            "sales_total": float(total),
            "preview": preview(shown),
        }
    )
