"""Asset checks: did every hour arrive, is the data right, did every sale reach Helix?

The check on `jd_transactions` blocks: if it fails, the hour's sales are not joined or
posted until the data is fixed. The others warn or fail visibly without stopping a run.
Every check evaluates each hour of its run on its own and files the result under that
hour (see hourly_check_results).
"""

from collections.abc import Callable
from datetime import datetime
from typing import Any

import dagster as dg

from jd_helix.assets.events import transaction_camera_events
from jd_helix.assets.helix import helix_events
from jd_helix.assets.hourly_table import HourWindow
from jd_helix.assets.sales import jd_transactions
from jd_helix.helix_status import HelixStatus
from jd_helix.hourly_check_results import results_per_hour
from jd_helix.partitions import hourly_partitions
from jd_helix.resources.helix_settings import HelixSettings
from jd_helix.resources.hourly_settings import HourlySettings
from jd_helix.resources.warehouse import WarehouseResource

HourlyResults = dict[datetime, list[dg.AssetCheckResult]]

def reading(warehouse: WarehouseResource, evaluate: Callable[[Any, HourWindow], HourlyResults]):
    """`evaluate(conn, window)` with a read connection open for its queries only.

    A DuckDB reader keeps every other process from writing the file; the results are stored
    afterwards, one event per hour (seconds for a week of hours), while other runs write.
    """

    def evaluate_window(window: HourWindow) -> HourlyResults:
        with warehouse.read() as conn:
            return evaluate(conn, window)

    return evaluate_window


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
    figures = _by_hour(
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
    examples = _examples_by_hour(
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
    figures = _by_hour(
        conn,
        window,
        "SELECT sale_hour, count(*) AS rows, count(*) FILTER (WHERE verkada_camera_id IS NULL) AS unmapped "
        "FROM transaction_camera_events WHERE sale_hour >= $start AND sale_hour < $end GROUP BY sale_hour",
        {"rows": 0, "unmapped": 0},
    )
    reasons = _examples_by_hour(
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
    max_attempts = helix_settings.max_attempts
    yield from results_per_hour(context, reading(warehouse, lambda conn, window: _ledger_by_hour(conn, window, max_attempts)))


LEDGER_BY_HOUR_SQL = f"""
SELECT e.sale_hour, count(*) AS sales, count(l.status) AS in_ledger,
       {", ".join(f"count(l.status) FILTER (WHERE l.status = '{s}') AS {s}" for s in HelixStatus)},
       count(*) FILTER (WHERE l.status = '{HelixStatus.FAILED}' AND l.attempts >= $max_attempts) AS exhausted
FROM transaction_camera_events e LEFT JOIN helix_events l USING (transaction_id)
WHERE e.sale_hour >= $start AND e.sale_hour < $end GROUP BY e.sale_hour
"""


def _ledger_by_hour(conn, window: HourWindow, max_attempts: int) -> HourlyResults:
    figures = _by_hour(
        conn,
        window,
        LEDGER_BY_HOUR_SQL,
        {"sales": 0, "in_ledger": 0, "exhausted": 0, **dict.fromkeys(HelixStatus, 0)},
        max_attempts=max_attempts,
    )
    results = {}
    for hour, f in figures.items():
        sales, in_ledger, exhausted = f["sales"], f["in_ledger"], f["exhausted"]
        results[hour] = [
            dg.AssetCheckResult(
                check_name="ledger_reconciles",
                passed=in_ledger == sales,
                metadata={
                    "sales": sales,
                    "in_ledger": in_ledger,
                    **{f"status/{s}": f[s] for s in sorted(HelixStatus) if f[s]},
                },
                description=None if in_ledger == sales else f"{sales - in_ledger} of {sales} sales have no ledger row",
            ),
            dg.AssetCheckResult(
                check_name="no_exhausted_retries",
                passed=exhausted == 0,
                metadata={"exhausted": exhausted, "max_attempts": max_attempts},
                description=None
                if exhausted == 0
                else f"{exhausted} events failed {max_attempts} times; see helix_events.reason",
            ),
        ]
    return results


def _by_hour(conn, window: HourWindow, sql: str, zeros: dict[str, int], **params) -> dict[datetime, dict[str, int]]:
    """One row of figures per hour of the window (`zeros` for an hour with no rows)."""
    frame = conn.execute(sql, {**window.bounds, **params}).df()
    found = {row.pop("sale_hour").to_pydatetime(): row for row in frame.to_dict("records")}
    return {hour: {k: int(v) for k, v in {**zeros, **found.get(hour, {})}.items()} for hour in window.hours}


def _examples_by_hour(conn, window: HourWindow, sql: str) -> dict[datetime, dg.MetadataValue]:
    """A markdown table per hour of the rows `sql` returns (its first column is sale_hour)."""
    frame = conn.execute(sql, window.bounds).df()
    return {
        hour.to_pydatetime(): dg.MetadataValue.md(rows.drop(columns="sale_hour").to_markdown(index=False))
        for hour, rows in frame.groupby("sale_hour")
    }


hourly_checks = [valid_transactions, unmapped_share_below_threshold, helix_events_checks]
