"""`jd_transactions`: each hour's sales from the JD API, one row per transaction_id."""

import time
from collections import defaultdict
from datetime import datetime, timezone

import dagster as dg

from jd_helix.assets.asset_defaults import DUCKDB_WRITER_POOL, hourly_asset
from jd_helix.assets.failures import TRANSIENT_RETRY, explained_failures
from jd_helix.assets.hourly_table import HourlyTable, HourWindow, hourly_result
from jd_helix.assets.rejected_records import log_rejected_records, rejection_counts, replace_rejections
from jd_helix.assets.tables import table_metadata
from jd_helix.clients.jd.records import TRANSACTIONS_ENDPOINT
from jd_helix.clients.jd.sales_extract import fetch_sales
from jd_helix.partitions import partition_key
from jd_helix.resources.jd_api import JdApiResource
from jd_helix.resources.warehouse import WarehouseResource
from jd_helix.time_utils import naive_utc

TABLE = HourlyTable(
    name="jd_transactions",
    preview_columns="transaction_id, transaction_at, transaction_amount, item_id, camera_id",
    preview_order="transaction_at, transaction_id",
    figures={"sales_total": "sum(transaction_amount)"},
)
# The newest copy of each transaction_id in the fetched batches (`incoming`); the parser
# already keeps each sale inside its window, the WHERE makes insert and delete agree.
INSERT_SQL = """
SELECT date_trunc('hour', epoch_ms(time_ms)), transaction_id, epoch_ms(time_ms),
       time_ms, cents_to_money(amount_cents), item_id, camera_id, $loaded_at
FROM incoming
WHERE epoch_ms(time_ms) >= $start AND epoch_ms(time_ms) < $end
QUALIFY row_number() OVER (PARTITION BY transaction_id ORDER BY seq DESC) = 1
"""

# Usable records per hour, before the newest copy of each transaction_id is kept.
PARSED_PER_HOUR_SQL = "SELECT date_trunc('hour', epoch_ms(time_ms)), count(*) FROM incoming GROUP BY 1"


@hourly_asset(
    kinds={"duckdb", "python"},
    pool=DUCKDB_WRITER_POOL,
    metadata=table_metadata("jd_transactions"),
    description=(
        "The hour's JD sales (GET /v1/sales), one row per transaction_id (the last copy wins), "
        "instants in UTC, amounts exact. Records that cannot be used go to jd_rejected_records."
    ),
    retry_policy=TRANSIENT_RETRY,
)
@explained_failures
def jd_transactions(
    context: dg.AssetExecutionContext, jd_api: JdApiResource, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    started = time.monotonic()
    window = HourWindow.of(context)
    hours = [hour.replace(tzinfo=timezone.utc) for hour in window.hours]
    client = jd_api.get_client()
    try:
        extract = fetch_sales(client, hours, jd_api.fetch_concurrency)
    finally:
        client.close()
    fetched_s = time.monotonic() - started

    loaded_at = naive_utc(datetime.now(timezone.utc))
    with warehouse.write() as conn:
        conn.register("incoming", extract.table)
        parsed = dict(conn.execute(PARSED_PER_HOUR_SQL).fetchall())
        TABLE.replace(conn, window, INSERT_SQL, {"loaded_at": loaded_at})
        conn.unregister("incoming")
        replace_rejections(
            conn,
            TRANSACTIONS_ENDPOINT,
            [partition_key(hour) for hour in hours],
            ((partition_key(hour), r) for hour, r in extract.rejections),
            loaded_at,
        )
        per_hour = TABLE.figures_by_hour(conn, window)

    rejected_by_hour = defaultdict(list)
    for hour, rejection in extract.rejections:
        rejected_by_hour[naive_utc(hour)].append(rejection)
    for hour, figures in per_hour.items():
        received = extract.received_by_hour[hour.replace(tzinfo=timezone.utc)]
        rejected = rejected_by_hour.get(hour, [])
        figures.update(
            records_received=received,
            rejected=len(rejected),
            duplicates_dropped=parsed.get(hour, 0) - figures["dagster/row_count"],
            **rejection_counts(rejected),
        )
    if extract.rejections:
        context.log.warning(
            f"{len(extract.rejections)} sales records set aside (see jd_rejected_records, "
            "or `jd-helix report rejected-records`)"
        )
    log_rejected_records(context, TRANSACTIONS_ENDPOINT, [partition_key(h) for h in hours], extract.rejections)
    return hourly_result(
        context,
        window,
        per_hour,
        run_wide={
            "records_received": extract.records_received,
            "pages": client.pages_fetched,
            "requests": client.requests_made,
            "fetch_s": round(fetched_s, 3),
            "duration_s": round(time.monotonic() - started, 3),
        },
    )
