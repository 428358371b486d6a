"""`jd_transactions`: each hour's sales from the JD API, one row per transaction_id."""

import time
from datetime import UTC, datetime

import dagster as dg

from jd_helix.clients.jd.records import TRANSACTIONS_ENDPOINT
from jd_helix.clients.jd.sales_extract import HourCounts, fetch_sales
from jd_helix.defs.hourly_sales.rejected_records import (
    log_rejected_counts,
    reason_metadata,
    replace_staged_rejections,
    table_figures,
)
from jd_helix.defs.hourly_sales.sales_staging import StagedSales
from jd_helix.domain.time_utils import naive_utc
from jd_helix.lib.asset_defaults import DUCKDB_WRITER_POOL, hourly_asset
from jd_helix.lib.failures import TRANSIENT_RETRY, explained_failures
from jd_helix.lib.hourly_table import HourlyTable, HourWindow, aware, hourly_result
from jd_helix.lib.partitions import partition_key
from jd_helix.lib.tables import table_metadata
from jd_helix.resources.jd_api import JdApiResource
from jd_helix.resources.warehouse import WarehouseResource

TABLE = HourlyTable(
    name="jd_transactions",
    preview_columns="transaction_id, transaction_at, transaction_amount, item_id, camera_id",
    preview_order="transaction_at, transaction_id",
    figures={"sales_total": "sum(transaction_amount)"},
)
# The newest copy of each transaction_id among the staged pages: every older copy (a
# lower seq) is left out. Finding those needs only the ids and seqs, not whole rows, so
# the one pass that sees the whole hour at once stays small. The parser already keeps
# each sale inside its window; the WHERE makes insert and delete agree.
INSERT_SQL = """
SELECT date_trunc('hour', epoch_ms(time_ms)), transaction_id, epoch_ms(time_ms),
       time_ms, cents_to_money(amount_cents), item_id, camera_id, $loaded_at
FROM read_parquet($files)
WHERE epoch_ms(time_ms) >= $start AND epoch_ms(time_ms) < $end
  AND seq NOT IN (
      SELECT seq FROM read_parquet($files)
      QUALIFY row_number() OVER (PARTITION BY transaction_id ORDER BY seq DESC) > 1)
"""


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
    hours = [aware(hour) for hour in window.hours]
    scopes = [partition_key(hour) for hour in hours]
    with warehouse.staging_directory("jd_transactions") as directory:
        # Pages go to disk as they arrive; the warehouse is opened only for the write.
        client = jd_api.get_client()
        try:
            with StagedSales(directory) as staged:
                counts = fetch_sales(client, hours, jd_api.fetch_concurrency, staged)
        finally:
            client.close()
        fetched_s = time.monotonic() - started

        loaded_at = naive_utc(datetime.now(UTC))
        with warehouse.write(bulk=True) as conn:  # the dedup pass and the insert spill beyond a limit
            params = {"loaded_at": loaded_at, "files": staged.sales_files}
            TABLE.replace(conn, window, INSERT_SQL, params)
            replace_staged_rejections(conn, TRANSACTIONS_ENDPOINT, scopes, staged.rejected_files, loaded_at)
            rejected_table = table_figures(conn)
            per_hour = TABLE.figures_by_hour(conn, window)
        write_s = time.monotonic() - started - fetched_s

    for hour, figures in per_hour.items():
        hour_counts = counts[aware(hour)]
        figures.update(hour_figures(hour_counts, figures["dagster/row_count"]))
    rejected = sum((c.rejected for c in counts.values()), start=HourCounts().rejected)
    if rejected:
        context.log.warning(
            f"{rejected.total()} sales records set aside (see jd_rejected_records, "
            "or `jd-helix report rejected-records`)"
        )
    log_rejected_counts(context, TRANSACTIONS_ENDPOINT, scopes, rejected, rejected_table)
    return hourly_result(
        context,
        window,
        per_hour,
        run_wide={
            "records_received": sum(c.received for c in counts.values()),
            "pages": client.pages_fetched,
            "requests": client.requests_made,
            "fetch_s": round(fetched_s, 3),
            "write_s": round(write_s, 3),
            "duration_s": round(time.monotonic() - started, 3),
        },
    )


def hour_figures(counts: HourCounts, rows: int) -> dict[str, int]:
    """What the API sent for the hour, beside what was stored of it."""
    return {
        "records_received": counts.received,
        "rejected": counts.rejected.total(),
        "duplicates_dropped": counts.parsed - rows,
        **reason_metadata(counts.rejected),
    }
