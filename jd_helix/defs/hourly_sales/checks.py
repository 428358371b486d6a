"""Checks on the hour's sales: are they sound (blocking), and do enough of them have a camera?

The check on `jd_transactions` blocks: if it fails, the hour's sales are not joined or
posted until the data is fixed. Each hour of a run gets its own result.
"""

import dagster as dg

from jd_helix.defs.hourly_sales.camera_events import transaction_camera_events
from jd_helix.defs.hourly_sales.transactions import jd_transactions
from jd_helix.lib.check_queries import HourlyResults, examples_by_hour, figures_by_hour, reading
from jd_helix.lib.hourly_check_results import results_per_hour
from jd_helix.lib.hourly_table import HourWindow
from jd_helix.lib.partitions import hourly_partitions
from jd_helix.resources.hourly_settings import HourlySettings
from jd_helix.resources.warehouse import WarehouseResource

# The rules of one sound hour of sales, each with the figure that breaks it and what to say.
TRANSACTION_RULES = {
    "unique_transaction_ids": ("duplicate_rows", "repeated transaction ids"),
    "non_negative_amounts": ("negative_amounts", "sales with a negative amount"),
    "instants_inside_their_hour": ("misplaced", "sales filed under the wrong hour"),
}


# One blocking check for the three rules, not three checks: every hour of a ranged run
# records its own result, and each result is an event the instance stores on its own
# (~25 ms apiece on SQLite), so one result per hour instead of three keeps a backfill fast.
@dg.asset_check(  # pyright: ignore[reportArgumentType]
    asset=jd_transactions,
    partitions_def=hourly_partitions,
    blocking=True,
    description=(
        "The hour's sales are sound: each transaction_id appears once (unique_transaction_ids), no sale "
        "has a negative amount (non_negative_amounts), every sale's instant lies inside the hour it is "
        "filed under (instants_inside_their_hour). A failure names the rules broken, with examples."
    ),
)
def valid_transactions(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource):
    yield from results_per_hour(context, reading(warehouse, _transactions_by_hour))


def _transactions_by_hour(conn, window: HourWindow) -> HourlyResults:
    figures = figures_by_hour(
        conn,
        window,
        """
        SELECT sale_hour, count(*) AS rows, count(*) - count(DISTINCT transaction_id) AS duplicate_rows,
               count(*) FILTER (WHERE transaction_amount < 0) AS negative_amounts,
               count(*) FILTER (WHERE date_trunc('hour', transaction_at) <> sale_hour
                                   OR epoch_ms(transaction_at) <> time_ms) AS misplaced
        FROM jd_transactions WHERE sale_hour >= $start AND sale_hour < $end GROUP BY sale_hour
        """,
        {"rows": 0, "duplicate_rows": 0, "negative_amounts": 0, "misplaced": 0},
    )
    examples = examples_by_hour(
        conn,
        window,
        """
        SELECT sale_hour, transaction_id, transaction_at, transaction_amount FROM jd_transactions
        WHERE sale_hour >= $start AND sale_hour < $end
          AND (transaction_amount < 0 OR date_trunc('hour', transaction_at) <> sale_hour
               OR epoch_ms(transaction_at) <> time_ms
               OR transaction_id IN (SELECT transaction_id FROM jd_transactions
                                     WHERE sale_hour >= $start AND sale_hour < $end
                                     GROUP BY 1 HAVING count(*) > 1))
        QUALIFY row_number() OVER (PARTITION BY sale_hour ORDER BY transaction_id) <= 5
        """,
    )
    results = {}
    for hour, f in figures.items():
        broken = {rule: f[figure] for rule, (figure, _) in TRANSACTION_RULES.items() if f[figure]}
        results[hour] = [
            dg.AssetCheckResult(
                passed=not broken,
                metadata={
                    "rows": f["rows"],
                    **{figure: f[figure] for figure, _ in TRANSACTION_RULES.values()},
                    "failed_rules": ", ".join(broken) or "none",
                    "examples": examples.get(hour, "none"),
                },
                # One line: the alert sends the description's first line.
                description="; ".join(f"{rule}: {count} {TRANSACTION_RULES[rule][1]}" for rule, count in broken.items())
                or None,
            )
        ]
    return results


# Dagster runs a check that yields its results, but types the function as returning one.
@dg.asset_check(  # pyright: ignore[reportArgumentType]
    asset=transaction_camera_events,
    partitions_def=hourly_partitions,
    description="The share of sales with no Verkada camera stays under JD_HELIX_MAX_UNMAPPED_SHARE (default 10%).",
)
def unmapped_share_below_threshold(
    context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource, hourly_settings: HourlySettings
):
    threshold = hourly_settings.max_unmapped_share
    yield from results_per_hour(context, reading(warehouse, lambda conn, window: _unmapped_by_hour(conn, window, threshold)))


def _unmapped_by_hour(conn, window: HourWindow, threshold: float) -> HourlyResults:
    figures = figures_by_hour(
        conn,
        window,
        "SELECT sale_hour, count(*) AS rows, count(*) FILTER (WHERE verkada_camera_id IS NULL) AS unmapped "
        "FROM transaction_camera_events WHERE sale_hour >= $start AND sale_hour < $end GROUP BY sale_hour",
        {"rows": 0, "unmapped": 0},
    )
    reasons = examples_by_hour(
        conn,
        window,
        "SELECT sale_hour, unmapped_reason AS reason, count(*) AS sales FROM transaction_camera_events "
        "WHERE sale_hour >= $start AND sale_hour < $end AND verkada_camera_id IS NULL GROUP BY 1, 2 "
        "QUALIFY row_number() OVER (PARTITION BY sale_hour ORDER BY count(*) DESC, reason) <= 10",
    )
    results = {}
    for hour, f in figures.items():
        share = f["unmapped"] / f["rows"] if f["rows"] else 0.0
        results[hour] = [
            dg.AssetCheckResult(
                passed=share <= threshold,
                severity=dg.AssetCheckSeverity.WARN,
                metadata={
                    "unmapped": f["unmapped"],
                    "rows": f["rows"],
                    "unmapped_share": round(share, 4),
                    "threshold": threshold,
                    "reasons": reasons.get(hour, "none"),
                },
                description=f"{share:.1%} of sales have no Verkada camera (threshold {threshold:.0%})",
            )
        ]
    return results
