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

# A refund (a negative amount) is a transaction like a sale. What is not: a zero amount (the
# parser sets it aside; this guards the stored table), and a refund worth more than this many
# of its item at list price - a basket holds a few of an item, so such a refund is a unit
# error (pence sent as pounds) or a broken export, not a return.
MAX_REFUND_LIST_PRICES = 10

# The rules of one sound hour of sales, each with the figure that breaks it and what to say.
TRANSACTION_RULES = {
    "unique_transaction_ids": ("duplicate_rows", "repeated transaction ids"),
    "no_zero_amounts": ("zero_amounts", "transactions with a zero amount"),
    "refunds_within_list_price": (
        "oversized_refunds",
        f"refunds worth more than {MAX_REFUND_LIST_PRICES} of their item at list price",
    ),
    "instants_inside_their_hour": ("misplaced", "sales filed under the wrong hour"),
}
# A refund the rule above breaks, over jd_transactions `t` LEFT JOIN jd_items `i`.
OVERSIZED_REFUND = f"(t.transaction_amount < 0 AND i.item_price > 0 AND -t.transaction_amount > {MAX_REFUND_LIST_PRICES} * i.item_price)"


# One blocking check for the three rules, not three checks: every hour of a ranged run
# records its own result, and each result is an event the instance stores on its own
# (~25 ms apiece on SQLite), so one result per hour instead of three keeps a backfill fast.
@dg.asset_check(  # pyright: ignore[reportArgumentType]
    asset=jd_transactions,
    partitions_def=hourly_partitions,
    blocking=True,
    description=(
        "The hour's sales and refunds are sound: each transaction_id appears once (unique_transaction_ids), "
        "no amount is zero (no_zero_amounts), no refund is worth more than "
        f"{MAX_REFUND_LIST_PRICES} of its item at list price (refunds_within_list_price), every instant "
        "lies inside the hour it is filed under (instants_inside_their_hour). A failure names the rules "
        "broken, with examples."
    ),
)
def valid_transactions(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource):
    yield from results_per_hour(context, reading(warehouse, _transactions_by_hour))


def _transactions_by_hour(conn, window: HourWindow) -> HourlyResults:
    figures = figures_by_hour(
        conn,
        window,
        f"""
        SELECT t.sale_hour, count(*) AS rows, count(*) - count(DISTINCT t.transaction_id) AS duplicate_rows,
               count(*) FILTER (WHERE t.transaction_amount = 0) AS zero_amounts,
               count(*) FILTER (WHERE {OVERSIZED_REFUND}) AS oversized_refunds,
               count(*) FILTER (WHERE date_trunc('hour', t.transaction_at) <> t.sale_hour
                                   OR epoch_ms(t.transaction_at) <> t.time_ms) AS misplaced
        FROM jd_transactions t LEFT JOIN jd_items i USING (item_id)
        WHERE t.sale_hour >= $start AND t.sale_hour < $end GROUP BY t.sale_hour
        """,
        {"rows": 0, "duplicate_rows": 0, "zero_amounts": 0, "oversized_refunds": 0, "misplaced": 0},
    )
    examples = examples_by_hour(
        conn,
        window,
        f"""
        SELECT t.sale_hour, t.transaction_id, t.transaction_at, t.transaction_amount, i.item_price
        FROM jd_transactions t LEFT JOIN jd_items i USING (item_id)
        WHERE t.sale_hour >= $start AND t.sale_hour < $end
          AND (t.transaction_amount = 0 OR {OVERSIZED_REFUND} OR date_trunc('hour', t.transaction_at) <> t.sale_hour
               OR epoch_ms(t.transaction_at) <> t.time_ms
               OR t.transaction_id IN (SELECT transaction_id FROM jd_transactions
                                       WHERE sale_hour >= $start AND sale_hour < $end
                                       GROUP BY 1 HAVING count(*) > 1))
        QUALIFY row_number() OVER (PARTITION BY t.sale_hour ORDER BY t.transaction_id) <= 5
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
    yield from results_per_hour(
        context, reading(warehouse, lambda conn, window: _unmapped_by_hour(conn, window, threshold))
    )


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
