"""Did each hour reach Helix by :45 past the next hour?

Evaluated, like every hourly check, for each hour of its run on its own and filed under
that hour (lib/hourly_check_results.py): a helix_events run, whatever its range, records one
result per hour it posted and nothing "Skipped". An hour passes when its first posting
(helix_events materialization) came by its deadline, or when its deadline passed before
the first hour was ever posted (a new deployment's backfill is not late). An hour posted
after its deadline is a warning that says by how much and, when the hours' run was launched
by hour_recovery_sensor, why (the outage's error).

Dagster's built-in partition freshness check fails on its first evaluation after a new
deployment starts, seconds before the first runs can have written anything. A schedule also
evaluates the hour due just after each deadline, so an hour that was never posted turns the
check yellow without anyone running anything.

Beside it, helix_events carries Dagster's FreshnessPolicy (`HELIX_EVENTS_FRESHNESS`): the
asset's freshness badge in the catalog. That policy looks at the asset as a whole (some hour
materialized in the hour before each :45), the check at each hour.
"""

from datetime import UTC, datetime, timedelta

import dagster as dg
from dagster import AssetRecordsFilter
from dagster._core.storage.tags import SCHEDULED_EXECUTION_TIME_TAG  # no public name in 1.13

from jd_helix.defs.helix.assets import helix_events
from jd_helix.lib.hourly_check_results import results_per_hour
from jd_helix.lib.hourly_table import HourWindow, aware
from jd_helix.lib.partitions import DEADLINE_MINUTE, hourly_partitions, partition_key
from jd_helix.lib.run_tags import LATE_BECAUSE_TAG


def hour_due(now: datetime) -> datetime:
    """The hour that must be posted by now: the last hour that ended before the latest deadline."""
    deadline = now.astimezone(UTC).replace(minute=DEADLINE_MINUTE, second=0, microsecond=0)
    if deadline > now:
        deadline -= timedelta(hours=1)
    return deadline.replace(minute=0) - timedelta(hours=1)


def deadline_of(hour: datetime) -> datetime:
    """When `hour` is due in Helix: :45 past the hour after it."""
    return hour + timedelta(hours=1, minutes=DEADLINE_MINUTE)


def first_posting(instance: dg.DagsterInstance, key: str | None = None) -> dg.EventLogRecord | None:
    """The first materialization of helix_events (of hour `key`, or of any hour)."""
    records = instance.fetch_materializations(
        AssetRecordsFilter(asset_key=helix_events.key, asset_partitions=[key] if key else None), limit=1, ascending=True
    ).records
    return records[0] if records else None


def _result(passed: bool, description: str, metadata: dict) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        passed=passed, severity=dg.AssetCheckSeverity.WARN, metadata=metadata, description=description
    )


def evaluate_hour(
    instance: dg.DagsterInstance, hour: datetime, first_ever: float | None, now: datetime
) -> dg.AssetCheckResult:
    key = partition_key(hour)
    deadline = deadline_of(hour)
    metadata: dict = {"deadline": dg.MetadataValue.timestamp(deadline)}
    if first_ever is None or deadline.timestamp() < first_ever:
        return _result(
            True,
            f"{key} was due before the first hour was posted; freshness is measured from the first one on.",
            metadata,
        )
    posted = first_posting(instance, key)
    if posted is None:
        return _result(now <= deadline, f"{key} is not posted yet (due by {deadline:%H:%M} UTC)", metadata)
    posted_at = datetime.fromtimestamp(posted.timestamp, UTC)
    metadata["posted_at"] = dg.MetadataValue.timestamp(posted_at)
    if posted_at <= deadline:
        return _result(True, f"{key} was posted by its deadline", metadata)
    late_minutes = round((posted_at - deadline).total_seconds() / 60)
    run = instance.get_run_by_id(posted.run_id)
    because = run.tags.get(LATE_BECAUSE_TAG) if run else None
    metadata["late_by_minutes"] = late_minutes
    if because:
        metadata["late_because"] = because
    return _result(
        False, f"{key} was posted {late_minutes} min after its deadline" + (f": {because}" if because else ""), metadata
    )


@dg.multi_asset_check(  # one check; multi_asset_check is the decorator typed for a generator body
    specs=[
        dg.AssetCheckSpec(
            "last_hour_posted_by_deadline",
            asset=helix_events,
            partitions_def=hourly_partitions,
            description=(
                "Each hour is posted (helix_events materialized) by :45 past the next hour; an hour due "
                "before the first hour was ever posted passes. A late hour says by how much, and why."
            ),
        )
    ],
)
def last_hour_posted_by_deadline(context: dg.AssetCheckExecutionContext):
    now = datetime.now(UTC)
    first = first_posting(context.instance)
    first_ever = first.timestamp if first else None

    def evaluate(window: HourWindow):
        return {hour: [evaluate_hour(context.instance, aware(hour), first_ever, now)] for hour in window.hours}

    yield from results_per_hour(context, evaluate)


@dg.op(description="Evaluates last_hour_posted_by_deadline for the hour due at the run's scheduled time (or now).")
def evaluate_hour_due(context: dg.OpExecutionContext) -> None:
    # A check-only asset job cannot be partitioned (Dagster infers partitions from assets), so
    # this op files the due hour's result under that hour itself, as the check does in runs.
    scheduled = context.run.tags.get(SCHEDULED_EXECUTION_TIME_TAG)
    now = datetime.now(UTC)
    due = hour_due(datetime.fromisoformat(scheduled) if scheduled else now)
    first = first_posting(context.instance)
    result = evaluate_hour(context.instance, due, first.timestamp if first else None, now)
    context.log_event(  # Dagster handles AssetCheckEvaluation here; 1.13's UserEvent alias omits it
        dg.AssetCheckEvaluation(  # pyright: ignore[reportArgumentType]
            asset_key=helix_events.key,
            check_name=last_hour_posted_by_deadline.check_key.name,
            passed=result.passed,
            metadata=result.metadata or {},
            severity=dg.AssetCheckSeverity.WARN,
            description=result.description,
            partition=partition_key(due),
        )
    )


@dg.job(
    name="helix_freshness_job",
    description="Evaluates last_hour_posted_by_deadline for the hour due (launched by helix_freshness_schedule).",
)
def freshness_job():
    evaluate_hour_due()


freshness_schedule = dg.ScheduleDefinition(
    name="helix_freshness_schedule",
    job=freshness_job,
    cron_schedule=f"{DEADLINE_MINUTE + 1} * * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Checks, just after each :45 deadline, that the hour then due reached Helix.",
)
