"""`helix_audit_job` and the schedules that audit recent hours and sweep the last week.

Both schedules ship switched on. Any range can also be audited by hand: `helix_audit_job`
(or the `helix_audit` asset) → Materialize → a range of hours, as a backfill.
"""

from datetime import datetime, timedelta, timezone

import dagster as dg

from jd_helix.defs.audit.assets import helix_audit
from jd_helix.lib.partitions import hourly_partitions, partition_key, partition_range_tags

AUDIT_MINUTE = 50  # after the :45 posting deadline
RECENT_HOURS_BACK = (2, 24)  # an hour is audited soon after it is posted, and again a day later
SWEEP_HOUR = 3  # UTC, a quiet hour for the shops
SWEEP_DAYS = 7

helix_audit_job = dg.define_asset_job(
    "helix_audit_job",
    selection=dg.AssetSelection.assets(helix_audit),
    description="Reads hours back from Helix, re-posts what Helix lost, adopts what the ledger forgot.",
)


def _this_hour(scheduled_at: datetime) -> datetime:
    return scheduled_at.astimezone(timezone.utc).replace(minute=0, second=0, microsecond=0)


def recent_hours_to_audit(scheduled_at: datetime) -> list[str]:
    """The hours (partition keys) a tick of helix_audit_schedule audits: 2 and 24 hours back."""
    this_hour = _this_hour(scheduled_at)
    hours = [this_hour - timedelta(hours=back) for back in RECENT_HOURS_BACK]
    return [partition_key(hour) for hour in hours if hour >= hourly_partitions.start]


def sweep_range(scheduled_at: datetime) -> tuple[str, str] | None:
    """The first and last hour (keys) of the daily sweep: the last 7 days, up to 2 hours back."""
    this_hour = _this_hour(scheduled_at)
    last = this_hour - timedelta(hours=RECENT_HOURS_BACK[0])
    first = max(this_hour - timedelta(days=SWEEP_DAYS), hourly_partitions.start)
    if first > last:
        return None
    return partition_key(first), partition_key(last)


@dg.schedule(
    cron_schedule=f"{AUDIT_MINUTE} * * * *",
    job=helix_audit_job,
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="At :50 each hour, audits the hour that began 2 hours before and the one 24 hours before.",
)
def helix_audit_schedule(context: dg.ScheduleEvaluationContext):
    keys = recent_hours_to_audit(context.scheduled_execution_time)
    if not keys:
        return dg.SkipReason("no audited hour lies inside the partitions yet")
    return [dg.RunRequest(run_key=f"audit:{key}:{context.scheduled_execution_time:%Y%m%d%H}", partition_key=key)
            for key in keys]


@dg.schedule(
    cron_schedule=f"30 {SWEEP_HOUR} * * *",
    job=helix_audit_job,
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Daily at 03:30 UTC, audits the last 7 days of hours in one run.",
)
def helix_audit_sweep_schedule(context: dg.ScheduleEvaluationContext):
    hours = sweep_range(context.scheduled_execution_time)
    if hours is None:
        return dg.SkipReason("no hour to sweep inside the partitions yet")
    first, last = hours
    return dg.RunRequest(run_key=f"sweep:{first}:{last}", tags=partition_range_tags(first, last))
