"""`helix_holds_ledger`: after the audit's re-posts, Helix holds every event the ledger says it does."""

from datetime import datetime

import dagster as dg

from jd_helix.defs.audit.assets import helix_audit
from jd_helix.defs.audit.state import table_exists
from jd_helix.lib.check_queries import HourlyResults, reading
from jd_helix.lib.hourly_check_results import results_per_hour
from jd_helix.lib.hourly_table import HourWindow
from jd_helix.resources.warehouse import WarehouseResource

FIGURES = ("held", "missing", "reposted", "adopted", "unknown", "still_missing")
FIGURE_SUMS_SQL = ", ".join(f"sum({figure})::BIGINT" for figure in FIGURES)


# Dagster runs a check that yields its results, but types the function as returning one.
@dg.asset_check(  # pyright: ignore[reportArgumentType]
    asset=helix_audit,
    name="helix_holds_ledger",
    partitions_def=helix_audit.partitions_def,
    description=(
        "Helix holds every event the ledger calls posted, once the audit has re-posted what it lost "
        "(an error while anything is still missing)."
    ),
)
def helix_holds_ledger(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource):
    yield from results_per_hour(context, reading(warehouse, _by_hour))


def _by_hour(conn, window: HourWindow) -> HourlyResults:
    audited: dict[datetime, dict] = {}
    pinned_hours = {
        hour
        for (hour,) in conn.execute(
            "SELECT DISTINCT sale_hour FROM helix_events WHERE sale_hour >= $start AND sale_hour < $end "
            "AND time_ms IS NOT NULL",
            window.bounds,
        ).fetchall()
    }
    if table_exists(conn):
        rows = conn.execute(
            f"SELECT sale_hour, max(audited_at), {FIGURE_SUMS_SQL} FROM helix_audit "
            "WHERE sale_hour >= $start AND sale_hour < $end GROUP BY sale_hour",
            window.bounds,
        ).fetchall()
        audited = {hour: {"audited_at": at, **dict(zip(FIGURES, figures, strict=True))} for hour, at, *figures in rows}
    results: HourlyResults = {}
    for hour in window.hours:
        found = audited.get(hour)
        if found is None:
            nothing_pinned = hour not in pinned_hours
            description = "no event of this hour was ever sent to Helix" if nothing_pinned else "not audited yet"
            results[hour] = [
                dg.AssetCheckResult(
                    passed=nothing_pinned, description=description, severity=dg.AssetCheckSeverity.ERROR
                )
            ]
            continue
        still_missing = found["still_missing"]
        results[hour] = [
            dg.AssetCheckResult(
                passed=still_missing == 0,
                severity=dg.AssetCheckSeverity.ERROR,
                metadata={
                    **{f: int(found[f]) for f in FIGURES},
                    "audited_at": f"{found['audited_at']:%Y-%m-%d %H:%M:%S} UTC",
                },
                description=None
                if still_missing == 0
                else f"{still_missing} events the ledger calls posted are not in Helix after the re-posts",
            )
        ]
    return results
