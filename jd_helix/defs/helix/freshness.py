"""Is the last complete hour in Helix by :45 past the next hour?

Dagster's built-in partition freshness check fails on its first evaluation after a new
deployment starts, seconds before the first runs can have written anything. This one
measures freshness from the first hour ever posted on: until `helix_events` has been
materialized once, it passes and says so. A schedule evaluates it once an hour, just
after the deadline, so it never runs before there could be data.

Beside it, helix_events carries Dagster's FreshnessPolicy (`HELIX_EVENTS_FRESHNESS`): the
asset's freshness badge in the catalog. That policy looks at the asset as a whole (some hour
materialized in the hour before each :45), the check at the exact hour due.
"""

from datetime import datetime, timedelta, timezone

import dagster as dg
from dagster import AssetRecordsFilter

from jd_helix.defs.helix.assets import helix_events
from jd_helix.lib.partitions import DEADLINE_MINUTE, hourly_partitions, partition_key


def hour_due(now: datetime) -> datetime:
    """The hour that must be posted by now: the last hour that ended before the latest deadline."""
    deadline = now.astimezone(timezone.utc).replace(minute=DEADLINE_MINUTE, second=0, microsecond=0)
    if deadline > now:
        deadline -= timedelta(hours=1)
    return deadline.replace(minute=0) - timedelta(hours=1)


@dg.asset_check(
    asset=helix_events,
    description=(
        "The last complete hour is posted (helix_events materialized) by :45 past the next hour. "
        "Passes until the first hour has been posted."
    ),
)
def last_hour_posted_by_deadline(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
    due = hour_due(datetime.now(timezone.utc))
    key = partition_key(due)
    any_hour = context.instance.get_latest_materialization_event(helix_events.key)
    if any_hour is None or due < hourly_partitions.start:
        return dg.AssetCheckResult(
            passed=True,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={"hour_due": key},
            description=f"No hour has been posted yet; freshness is measured from the first one (due: {key}).",
        )
    records = context.instance.fetch_materializations(
        AssetRecordsFilter(asset_key=helix_events.key, asset_partitions=[key]), limit=1
    ).records
    return dg.AssetCheckResult(
        passed=bool(records),
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "hour_due": key,
            "last_posted_hour": (any_hour.dagster_event and any_hour.dagster_event.partition) or "",
            **({"posted_at": dg.MetadataValue.timestamp(records[0].timestamp)} if records else {}),
        },
        description=f"{key} is posted" if records else f"{key} is not posted yet (due by :{DEADLINE_MINUTE})",
    )


freshness_job = dg.define_asset_job(
    "helix_freshness_job",
    selection=dg.AssetSelection.checks(last_hour_posted_by_deadline),
    description="Evaluates last_hour_posted_by_deadline on helix_events.",
)

freshness_schedule = dg.ScheduleDefinition(
    name="helix_freshness_schedule",
    job=freshness_job,
    cron_schedule=f"{DEADLINE_MINUTE + 1} * * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Checks, just after each :45 deadline, that the last complete hour reached Helix.",
)
