"""Checks on the ledger: every sale of the hour has its row, and none has run out of attempts."""

import dagster as dg

from jd_helix.defs.helix.assets import helix_events
from jd_helix.domain.helix_status import HelixStatus
from jd_helix.lib.check_queries import HourlyResults, figures_by_hour, reading
from jd_helix.lib.hourly_check_results import results_per_hour
from jd_helix.lib.hourly_table import HourWindow
from jd_helix.lib.partitions import hourly_partitions
from jd_helix.resources.helix_settings import HelixSettings
from jd_helix.resources.warehouse import WarehouseResource


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
    figures = figures_by_hour(
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
