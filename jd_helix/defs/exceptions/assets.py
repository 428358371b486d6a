"""`transaction_exceptions`: the hour's flagged transactions (rules.py), after the join and
before Helix, so that each event carries its flags."""

import time
from datetime import UTC, datetime, timedelta

import dagster as dg

from jd_helix.defs.exceptions.rules import flags_params, flags_sql
from jd_helix.defs.hourly_sales.camera_events import transaction_camera_events
from jd_helix.domain.exception_rules import RULES
from jd_helix.domain.time_utils import naive_utc
from jd_helix.lib.asset_defaults import DUCKDB_WRITER_POOL, hourly_asset
from jd_helix.lib.catch_up import catch_up_condition
from jd_helix.lib.failures import explained_failures
from jd_helix.lib.hourly_table import HourlyTable, HourWindow, hourly_result
from jd_helix.lib.metadata import PREVIEW_ROWS
from jd_helix.lib.tables import table_metadata
from jd_helix.resources.exception_settings import ExceptionSettings
from jd_helix.resources.warehouse import WarehouseResource

HOUR = timedelta(hours=1)

TABLE = HourlyTable(
    name="transaction_exceptions",
    preview_columns="store_id, pos_id, transaction_id, transaction_at, transaction_amount, exceptions",
    preview_order="store_id, pos_id, transaction_at, transaction_id",
    figures={"flagged": "count(*)", **{rule: f"count(*) FILTER (WHERE {rule})" for rule in RULES}},
)

# Per store and till of each hour: its flagged transactions and how many of them each rule
# flagged, the tills with the most first.
BY_TILL_SQL = f"""
SELECT sale_hour, store_id, pos_id, count(*) AS flagged,
       {", ".join(f"count(*) FILTER (WHERE {rule}) AS {rule}" for rule in RULES)}
FROM transaction_exceptions WHERE sale_hour >= $start AND sale_hour < $end
GROUP BY sale_hour, store_id, pos_id
QUALIFY row_number() OVER (PARTITION BY sale_hour ORDER BY count(*) DESC, store_id, pos_id) <= {PREVIEW_ROWS}
ORDER BY sale_hour, flagged DESC, store_id, pos_id
"""


@hourly_asset(
    deps=[transaction_camera_events, "jd_items"],  # the join, and the list prices price_override compares with
    group_name="exceptions",
    kinds={"duckdb", "sql"},
    pool=DUCKDB_WRITER_POOL,
    metadata=table_metadata("transaction_exceptions"),
    automation_condition=catch_up_condition(),
    description=(
        "The hour's transactions that loss prevention wants to see (refund, high_value, price_override, "
        "after_hours, repeat_refunds; thresholds in the exception_settings resource), one row each with "
        "a flag per rule; each hour shows its counts per rule and per store and till. helix_events posts "
        "every transaction with these flags as attributes."
    ),
)
@explained_failures
def transaction_exceptions(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, exception_settings: ExceptionSettings
) -> dg.MaterializeResult:
    started = time.monotonic()
    window = HourWindow.of(context)
    sql, params = flags_sql(exception_settings), flags_params(exception_settings)
    built_at = naive_utc(datetime.now(UTC))
    with warehouse.write() as conn:
        # Hour by hour: each hour's history ends where it starts.
        conn.execute("DELETE FROM transaction_exceptions WHERE sale_hour >= $start AND sale_hour < $end", window.bounds)
        for hour in window.hours:
            conn.execute(
                f"INSERT INTO transaction_exceptions {sql}",
                {**params, "start": hour, "end": hour + HOUR, "built_at": built_at},
            )
        per_hour = TABLE.figures_by_hour(conn, window)
        by_till = conn.execute(BY_TILL_SQL, window.bounds).fetchall()
    for hour, figures in per_hour.items():
        rows = [row[1:] for row in by_till if row[0] == hour]
        figures["by_store_and_till"] = dg.MetadataValue.md(_till_table(rows))
    return hourly_result(context, window, per_hour, run_wide={"duration_s": round(time.monotonic() - started, 3)})


def _till_table(rows: list[tuple]) -> str:
    header = ["store", "till", "flagged", *RULES]
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join("" if value is None else str(value) for value in row) + " |" for row in rows]
    return "\n".join(lines) if rows else "no flagged transactions"
