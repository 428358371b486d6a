"""`jd_transactions`: each hour's sales from the JD API, one row per transaction_id."""

import time
from datetime import datetime, timezone

import dagster as dg

from jd_helix.assets.metadata import column_schema, preview, window_metadata
from jd_helix.assets.rejected_records import rejection_counts, replace_rejections
from jd_helix.partitions import hourly_backfill_policy, hourly_partitions, partition_key
from jd_helix.resources.jd_api import JdApiResource
from jd_helix.resources.jd_records import TRANSACTIONS_ENDPOINT
from jd_helix.resources.jd_sales import HOUR, fetch_sales
from jd_helix.resources.warehouse import WarehouseResource

GROUP = "hourly_sales"
POOL = "duckdb_writer"


def hours_of(start: datetime, end: datetime) -> list[datetime]:
    hours, hour = [], start
    while hour < end:
        hours.append(hour)
        hour += HOUR
    return hours


def naive_utc(instant: datetime) -> datetime:
    """DuckDB TIMESTAMP columns hold UTC without a zone."""
    return instant.astimezone(timezone.utc).replace(tzinfo=None)


@dg.asset(
    partitions_def=hourly_partitions,
    backfill_policy=hourly_backfill_policy,
    group_name=GROUP,
    kinds={"duckdb", "python"},
    pool=POOL,
    owners=["team:retail-data"],
    description=(
        "The hour's JD sales (GET /v1/sales), one row per transaction_id (the last copy wins), "
        "instants in UTC, amounts exact. Records that cannot be used go to jd_rejected_records."
    ),
)
def jd_transactions(
    context: dg.AssetExecutionContext, jd_api: JdApiResource, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    started = time.monotonic()
    window = context.partition_time_window
    hours = hours_of(window.start, window.end)
    client = jd_api.get_client()
    try:
        extract = fetch_sales(client, hours, jd_api.fetch_concurrency)
    finally:
        client.close()
    fetched_s = time.monotonic() - started

    incoming = extract.table  # noqa: F841 - read by DuckDB's replacement scan below
    loaded_at = naive_utc(datetime.now(timezone.utc))
    start, end = naive_utc(window.start), naive_utc(window.end)
    with warehouse.write() as conn:
        conn.execute("DELETE FROM jd_transactions WHERE sale_hour >= ? AND sale_hour < ?", [start, end])
        conn.execute(
            """
            INSERT INTO jd_transactions
            SELECT date_trunc('hour', epoch_ms(time_ms)), transaction_id, epoch_ms(time_ms),
                   time_ms, cents_to_money(amount_cents), item_id, camera_id, ?
            FROM incoming
            QUALIFY row_number() OVER (PARTITION BY transaction_id ORDER BY seq DESC) = 1
            """,
            [loaded_at],
        )
        replace_rejections(
            conn,
            TRANSACTIONS_ENDPOINT,
            [partition_key(hour) for hour in hours],
            ((partition_key(hour), r) for hour, r in extract.rejections),
            loaded_at,
        )
        rows = conn.execute(
            "SELECT count(*) FROM jd_transactions WHERE sale_hour >= ? AND sale_hour < ?", [start, end]
        ).fetchone()[0]
        schema = column_schema(conn, "jd_transactions")
        shown = conn.execute(
            "SELECT transaction_id, transaction_at, transaction_amount, item_id, camera_id "
            "FROM jd_transactions WHERE sale_hour >= ? AND sale_hour < ? "
            "ORDER BY transaction_at LIMIT 10",
            [start, end],
        ).df()
    rejected = [r for _, r in extract.rejections]
    if rejected:
        context.log.warning(f"{len(rejected)} sales records set aside (see jd_rejected_records)")
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": rows,
            "dagster/column_schema": schema,
            **window_metadata(window.start, window.end),
            "hours": len(hours),
            "records_received": extract.records_received,
            "duplicates_dropped": extract.table.num_rows - rows,
            "rejected": len(rejected),
            **rejection_counts(rejected),
            "pages": client.pages_fetched,
            "requests": client.requests_made,
            "fetch_s": round(fetched_s, 3),
            "duration_s": round(time.monotonic() - started, 3),
            "preview": preview(shown),
        }
    )
