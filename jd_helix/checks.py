"""Asset checks: did every hour arrive, is the data right, did every sale reach Helix?

Checks on `jd_transactions` block: if one fails, the hour's sales are not joined or
posted until the data is fixed. The others warn or fail visibly without stopping a run.
"""

import os

import dagster as dg

from jd_helix.assets.events import transaction_camera_events
from jd_helix.assets.helix import helix_events
from jd_helix.assets.sales import jd_transactions, naive_utc
from jd_helix.partitions import hourly_partitions
from jd_helix.resources.helix_settings import HelixSettings
from jd_helix.resources.warehouse import WarehouseResource

DEFAULT_MAX_UNMAPPED_SHARE = 0.10
# The last complete hour must be in Helix by this many minutes past the next hour.
FRESHNESS_DEADLINE_CRON = "45 * * * *"


def _window(context) -> dict:
    window = context.op_execution_context.partition_time_window
    return {"start": naive_utc(window.start), "end": naive_utc(window.end)}


@dg.multi_asset_check(
    specs=[
        dg.AssetCheckSpec("unique_transaction_ids", asset=jd_transactions, partitions_def=hourly_partitions, blocking=True,
                          description="Each transaction_id appears once in the hour."),
        dg.AssetCheckSpec("non_negative_amounts", asset=jd_transactions, partitions_def=hourly_partitions, blocking=True,
                          description="No sale has a negative amount."),
        dg.AssetCheckSpec("instants_inside_their_hour", asset=jd_transactions, partitions_def=hourly_partitions, blocking=True,
                          description="Every sale's instant lies inside the hour it is filed under."),
    ],
)
def jd_transactions_checks(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource):
    bounds = _window(context)
    with warehouse.read() as conn:
        rows, distinct_ids, negative, misplaced = conn.execute(
            """
            SELECT count(*), count(DISTINCT transaction_id),
                   count(*) FILTER (WHERE transaction_amount < 0),
                   count(*) FILTER (WHERE date_trunc('hour', transaction_at) <> sale_hour
                                       OR epoch_ms(transaction_at) <> time_ms)
            FROM jd_transactions WHERE sale_hour >= $start AND sale_hour < $end
            """,
            bounds,
        ).fetchone()
        examples = conn.execute(
            """
            SELECT transaction_id, transaction_at, transaction_amount, sale_hour FROM jd_transactions
            WHERE sale_hour >= $start AND sale_hour < $end
              AND (transaction_amount < 0 OR date_trunc('hour', transaction_at) <> sale_hour
                   OR transaction_id IN (SELECT transaction_id FROM jd_transactions
                                         WHERE sale_hour >= $start AND sale_hour < $end
                                         GROUP BY 1 HAVING count(*) > 1))
            LIMIT 5
            """,
            bounds,
        ).df()
    shown = dg.MetadataValue.md(examples.to_markdown(index=False)) if len(examples) else "none"
    yield dg.AssetCheckResult(
        check_name="unique_transaction_ids",
        passed=rows == distinct_ids,
        metadata={"rows": rows, "duplicate_rows": rows - distinct_ids, "examples": shown},
        description=None if rows == distinct_ids else f"{rows - distinct_ids} repeated transaction ids",
    )
    yield dg.AssetCheckResult(
        check_name="non_negative_amounts",
        passed=negative == 0,
        metadata={"negative_amounts": negative, "examples": shown},
        description=None if negative == 0 else f"{negative} sales with a negative amount",
    )
    yield dg.AssetCheckResult(
        check_name="instants_inside_their_hour",
        passed=misplaced == 0,
        metadata={"misplaced": misplaced, "examples": shown},
        description=None if misplaced == 0 else f"{misplaced} sales filed under the wrong hour",
    )


@dg.asset_check(
    asset=transaction_camera_events,
    partitions_def=hourly_partitions,
    description="The share of sales with no Verkada camera stays under JD_HELIX_MAX_UNMAPPED_SHARE (default 10%).",
)
def unmapped_share_below_threshold(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource):
    threshold = float(os.environ.get("JD_HELIX_MAX_UNMAPPED_SHARE", DEFAULT_MAX_UNMAPPED_SHARE))
    with warehouse.read() as conn:
        rows, unmapped = conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE verkada_camera_id IS NULL) FROM transaction_camera_events "
            "WHERE sale_hour >= $start AND sale_hour < $end",
            _window(context),
        ).fetchone()
        reasons = conn.execute(
            "SELECT unmapped_reason AS reason, count(*) AS sales FROM transaction_camera_events "
            "WHERE sale_hour >= $start AND sale_hour < $end AND verkada_camera_id IS NULL "
            "GROUP BY 1 ORDER BY 2 DESC LIMIT 10",
            _window(context),
        ).df()
    share = unmapped / rows if rows else 0.0
    return dg.AssetCheckResult(
        passed=share <= threshold,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "unmapped": unmapped,
            "rows": rows,
            "unmapped_share": round(share, 4),
            "threshold": threshold,
            "reasons": dg.MetadataValue.md(reasons.to_markdown(index=False)) if len(reasons) else "none",
        },
        description=f"{share:.1%} of sales have no Verkada camera (threshold {threshold:.0%})",
    )


@dg.multi_asset_check(
    specs=[
        dg.AssetCheckSpec("ledger_reconciles", asset=helix_events, partitions_def=hourly_partitions,
                          description="posted + failed + skipped + unmapped + pending = the hour's sales."),
        dg.AssetCheckSpec("no_exhausted_retries", asset=helix_events, partitions_def=hourly_partitions,
                          description="No event has used up its attempts and been left failed."),
    ],
)
def helix_events_checks(
    context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource, helix_settings: HelixSettings
):
    bounds = _window(context)
    with warehouse.read() as conn:
        sales = conn.execute(
            "SELECT count(*) FROM transaction_camera_events WHERE sale_hour >= $start AND sale_hour < $end", bounds
        ).fetchone()[0]
        by_status = dict(
            conn.execute(
                "SELECT l.status, count(*) FROM helix_events l "
                "JOIN transaction_camera_events e USING (transaction_id) "
                "WHERE e.sale_hour >= $start AND e.sale_hour < $end GROUP BY 1",
                bounds,
            ).fetchall()
        )
        exhausted = conn.execute(
            "SELECT count(*) FROM helix_events WHERE sale_hour >= $start AND sale_hour < $end "
            "AND status = 'failed' AND attempts >= $max",
            {**bounds, "max": helix_settings.max_attempts},
        ).fetchone()[0]
    in_ledger = sum(by_status.values())
    yield dg.AssetCheckResult(
        check_name="ledger_reconciles",
        passed=in_ledger == sales,
        metadata={"sales": sales, "in_ledger": in_ledger, **{f"status/{k}": v for k, v in sorted(by_status.items())}},
        description=None if in_ledger == sales else f"{sales - in_ledger} of {sales} sales have no ledger row",
    )
    yield dg.AssetCheckResult(
        check_name="no_exhausted_retries",
        passed=exhausted == 0,
        metadata={"exhausted": exhausted, "max_attempts": helix_settings.max_attempts},
        description=None if exhausted == 0 else f"{exhausted} events failed {helix_settings.max_attempts} times; see helix_events.reason",
    )


hourly_freshness_checks = dg.build_time_partition_freshness_checks(
    assets=[helix_events], deadline_cron=FRESHNESS_DEADLINE_CRON, timezone="UTC"
)
freshness_checks_sensor = dg.build_sensor_for_freshness_checks(
    freshness_checks=hourly_freshness_checks,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
hourly_checks = [jd_transactions_checks, unmapped_share_below_threshold, helix_events_checks]
