"""`helix_audit_job` and the schedules that audit recent hours and sweep the last week.

Both schedules ship switched on. The sweep takes the stalest hours its budget pays for (sweep.py). Any range can also be audited by hand: `helix_audit_job`
(or the `helix_audit` asset) → Materialize → a range of hours, as a backfill.
"""

from datetime import UTC, datetime, timedelta

import dagster as dg

from jd_helix.defs.audit.assets import helix_audit
from jd_helix.defs.audit.sweep import (
    TOKEN_REQUESTS,
    choose_hours,
    contiguous_ranges,
    daily_capacity,
    estimated_requests,
    hourly_audits_demand,
    stalest_first,
    sweep_budget,
)
from jd_helix.defs.audit.sweep_candidates import read_sweep_hours
from jd_helix.domain.time_utils import naive_utc
from jd_helix.lib.hourly_table import aware
from jd_helix.lib.partitions import hourly_partitions, partition_key, partition_range_tags
from jd_helix.lib.warehouse_reads import WAREHOUSE_BUSY
from jd_helix.resources.verkada import VerkadaResource
from jd_helix.resources.warehouse import WarehouseResource

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
    return scheduled_at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def recent_hours_to_audit(scheduled_at: datetime) -> list[str]:
    """The hours (partition keys) a tick of helix_audit_schedule audits: 2 and 24 hours back."""
    this_hour = _this_hour(scheduled_at)
    hours = [this_hour - timedelta(hours=back) for back in RECENT_HOURS_BACK]
    return [partition_key(hour) for hour in hours if hour >= hourly_partitions.start]


def sweep_window(scheduled_at: datetime) -> tuple[datetime, datetime] | None:
    """The first and last hour (UTC) the daily sweep chooses from: the last 7 days, up to 2 hours back."""
    this_hour = _this_hour(scheduled_at)
    last = this_hour - timedelta(hours=RECENT_HOURS_BACK[0])
    first = max(this_hour - timedelta(days=SWEEP_DAYS), hourly_partitions.start)
    if first > last:
        return None
    return first, last


def sweep_range(scheduled_at: datetime) -> tuple[str, str] | None:
    """sweep_window's first and last hour as partition keys."""
    window = sweep_window(scheduled_at)
    return None if window is None else (partition_key(window[0]), partition_key(window[1]))


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
    return [
        dg.RunRequest(run_key=f"audit:{key}:{context.scheduled_execution_time:%Y%m%d%H}", partition_key=key)
        for key in keys
    ]


@dg.schedule(
    cron_schedule=f"30 {SWEEP_HOUR} * * *",
    job=helix_audit_job,
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description=(
        "Daily at 03:30 UTC, audits the hours of the last 7 days least recently audited first, as many "
        "as the sweep's budget pays for (VerkadaResource.audit_sweep_requests_per_day; by default what the "
        "audit's share leaves after the hourly audits): one run per consecutive range."
    ),
)
def helix_audit_sweep_schedule(
    context: dg.ScheduleEvaluationContext, verkada: VerkadaResource, warehouse: WarehouseResource
):
    window = sweep_window(context.scheduled_execution_time)
    if window is None:
        return dg.SkipReason("no hour to sweep inside the partitions yet")
    first, last = (naive_utc(hour) for hour in window)
    this_hour = naive_utc(_this_hour(context.scheduled_execution_time))
    # The sweep's window and the last 24 hours (what the hourly schedule audits), in one read.
    hours = read_sweep_hours(warehouse.database, first, this_hour - timedelta(hours=1))
    if hours is None:
        return dg.SkipReason(WAREHOUSE_BUSY)
    hourly_demand = hourly_audits_demand([h.events for h in hours if h.hour >= this_hour - timedelta(days=1)])
    budget = sweep_budget(
        verkada.audit_sweep_requests_per_day, daily_capacity(verkada.audit_rate_limits()), hourly_demand
    )
    candidates = [h for h in hours if h.hour <= last]
    chosen = choose_hours(candidates, budget)
    if not chosen:
        return dg.SkipReason(
            f"the sweep's budget ({budget} requests; the hourly audits take ~{hourly_demand}) "
            f"does not pay for the stalest hour ({estimated_requests(stalest_first(candidates)[0]) + TOKEN_REQUESTS} requests)"
        )
    ranges = [
        (partition_key(aware(start)), partition_key(aware(end)))
        for start, end in contiguous_ranges([h.hour for h in chosen])
    ]
    estimate = sum(estimated_requests(h) for h in chosen) + TOKEN_REQUESTS * len(ranges)
    context.log.info(
        f"Sweeping {len(chosen)} of {len(candidates)} hours in {len(ranges)} runs, ~{estimate} requests of a "
        f"budget of {budget} (the hourly audits take ~{hourly_demand} a day)"
    )
    day = f"{context.scheduled_execution_time:%Y%m%d}"
    return [
        # The day in the key: with rotation, the same range may be swept again another day.
        dg.RunRequest(run_key=f"sweep:{day}:{first_key}:{last_key}", tags=partition_range_tags(first_key, last_key))
        for first_key, last_key in ranges
    ]
