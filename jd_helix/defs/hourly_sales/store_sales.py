"""`store_sales`: the hour per store, the report the old app served as "sales for a store"."""

from datetime import UTC, datetime

import dagster as dg

from jd_helix.defs.helix.assets import helix_events
from jd_helix.defs.hourly_sales.camera_events import transaction_camera_events
from jd_helix.defs.hourly_sales.events_posted import EVENTS_POSTED
from jd_helix.domain.default_event_type import DEFAULT_TYPE_LEDGER_JOIN
from jd_helix.domain.time_utils import naive_utc
from jd_helix.lib.asset_defaults import DUCKDB_WRITER_POOL, hourly_asset
from jd_helix.lib.catch_up import catch_up_condition
from jd_helix.lib.failures import explained_failures
from jd_helix.lib.hourly_table import HourlyTable, HourWindow, hourly_result
from jd_helix.lib.tables import table_metadata
from jd_helix.resources.warehouse import WarehouseResource

SALES_PER_STORE_AND_HOUR_SQL = f"""
SELECT e.sale_hour, e.store_id, any_value(e.store_name) AS store_name,
       count(*) AS transactions, sum(e.transaction_amount)::DECIMAL(18, 2) AS sales_total,
       {EVENTS_POSTED} AS events_posted, $built_at
FROM transaction_camera_events e
{DEFAULT_TYPE_LEDGER_JOIN}
WHERE e.sale_hour >= $start AND e.sale_hour < $end
GROUP BY e.sale_hour, e.store_id
"""


TABLE = HourlyTable(
    name="store_sales",
    preview_columns="store_id, store_name, transactions, sales_total, events_posted",
    preview_order="sales_total DESC, store_id",
    figures={
        "sales_total": "sum(sales_total)",
        "transactions": "sum(transactions)",
        "events_posted": "sum(events_posted)",
    },
)


@hourly_asset(
    # Both tables the SQL below reads.
    deps=[transaction_camera_events, helix_events],
    group_name="reports",
    kinds={"duckdb", "sql"},
    pool=DUCKDB_WRITER_POOL,
    metadata=table_metadata("store_sales"),
    automation_condition=catch_up_condition(),
    description=(
        "Per store and hour: transactions, sales total and events posted to Helix (of the default, "
        "first declared event type)."
    ),
)
@explained_failures
def store_sales(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    window = HourWindow.of(context)
    with warehouse.write() as conn:
        TABLE.replace(
            conn,
            window,
            SALES_PER_STORE_AND_HOUR_SQL,
            {"built_at": naive_utc(datetime.now(UTC))},
        )
        per_hour = TABLE.figures_by_hour(conn, window)
    return hourly_result(context, window, per_hour, run_wide={})
