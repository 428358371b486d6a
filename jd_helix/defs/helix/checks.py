"""Checks on the ledger: every sale of the hour has its row for each event type that takes it,
and none has run out of attempts."""

import dagster as dg

from jd_helix.defs.helix.assets import helix_events
from jd_helix.defs.helix.destination import pinned_uids_by_name
from jd_helix.domain.event_types import EventType, configured_event_types
from jd_helix.domain.helix_status import HelixStatus
from jd_helix.lib.check_queries import HourlyResults, figures_by_hour, reading
from jd_helix.lib.hourly_check_results import results_per_hour
from jd_helix.lib.hourly_table import HourWindow
from jd_helix.lib.partitions import hourly_partitions
from jd_helix.resources.helix_settings import HelixSettings
from jd_helix.resources.warehouse import WarehouseResource


@dg.multi_asset_check(
    specs=[
        dg.AssetCheckSpec(
            "ledger_reconciles",
            asset=helix_events,
            partitions_def=hourly_partitions,
            description="posted + failed + skipped + unmapped + pending = the hour's sales, "
            "per event type (the sales it takes).",
        ),
        dg.AssetCheckSpec(
            "no_exhausted_retries",
            asset=helix_events,
            partitions_def=hourly_partitions,
            description="No event has used up its attempts and been left failed.",
        ),
    ],
)
def helix_events_checks(
    context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource, helix_settings: HelixSettings
):
    max_attempts = helix_settings.max_attempts
    event_types = configured_event_types(helix_settings)
    yield from results_per_hour(
        context, reading(warehouse, lambda conn, window: _ledger_by_hour(conn, window, max_attempts, event_types))
    )


def ledger_by_hour_sql(takes_sql: str) -> str:
    """Per hour, the sales one event type takes (`takes_sql`) and their ledger rows of that type."""
    return f"""
SELECT e.sale_hour, count(*) AS sales, count(l.status) AS in_ledger,
       {", ".join(f"count(l.status) FILTER (WHERE l.status = '{s}') AS {s}" for s in HelixStatus)},
       count(*) FILTER (WHERE l.status = '{HelixStatus.FAILED}' AND l.attempts >= $max_attempts) AS exhausted
FROM transaction_camera_events e
LEFT JOIN transaction_exceptions x ON x.transaction_id = e.transaction_id AND x.sale_hour = e.sale_hour
LEFT JOIN helix_events l ON l.transaction_id = e.transaction_id AND l.event_type_uid = $event_type_uid
WHERE e.sale_hour >= $start AND e.sale_hour < $end AND ({takes_sql}) GROUP BY e.sale_hour
"""


def _ledger_by_hour(conn, window: HourWindow, max_attempts: int, event_types: tuple[EventType, ...]) -> HourlyResults:
    zeros = {"sales": 0, "in_ledger": 0, "exhausted": 0, **dict.fromkeys(HelixStatus, 0)}
    uids = pinned_uids_by_name(conn)  # a type never pinned has none: all its sales are missing
    per_type = {
        event_type.name: figures_by_hour(
            conn,
            window,
            ledger_by_hour_sql(event_type.takes_sql),
            zeros,
            max_attempts=max_attempts,
            event_type_uid=uids.get(event_type.name, ""),
            **event_type.takes_params,
        )
        for event_type in event_types
    }
    results = {}
    for hour in window.hours:
        f = {name: sum(figures[hour][name] for figures in per_type.values()) for name in zeros}
        sales, in_ledger, exhausted = f["sales"], f["in_ledger"], f["exhausted"]
        short = {name: figures[hour]["sales"] - figures[hour]["in_ledger"] for name, figures in per_type.items()}
        # One type (the default): the figures as before types were declared; several: also each type's.
        by_type = (
            {}
            if len(per_type) == 1
            else {
                f"{name}/{figure}": figures[hour][figure]
                for name, figures in per_type.items()
                for figure in ("sales", "in_ledger")
            }
        )
        results[hour] = [
            dg.AssetCheckResult(
                check_name="ledger_reconciles",
                passed=not any(short.values()),
                metadata={
                    "sales": sales,
                    "in_ledger": in_ledger,
                    **{f"status/{s}": f[s] for s in sorted(HelixStatus) if f[s]},
                    **by_type,
                },
                description=None
                if not any(short.values())
                else "; ".join(
                    f"{missing} of {per_type[name][hour]['sales']} sales have no ledger row"
                    + (f" of event type {name!r}" if len(per_type) > 1 else "")
                    for name, missing in short.items()
                    if missing
                ),
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
