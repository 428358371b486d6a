"""Healing an outage: hours whose last run failed are run again, with growing waits, until
they are posted.

When the JD or Verkada API is down, a run fails before anything reaches the ledger (the
token request, or the JD pages), so helix_retry_sensor has no failed row to retry, and the
:15 schedule's look-back reaches only the last few hours. hour_recovery_sensor looks at the
runs instead: an hour of the hourly chain whose latest run failed (and none is running) is
run again (hourly_sales_job over each span of such hours) once the wait after its last
failure has passed: 2, 4, 8, 16, then every 30 minutes, while it is in Helix's window.
Dagster's own run retries cannot wait (1.13 re-executes at once), so the shipped
dagster.yaml leaves step failures to this sensor and keeps run retries for dead workers.

Each run it launches carries why: `jd_helix/late_because` (the failed run and its error)
and `jd_helix/recovery_attempt`; helix_events shows the reason as `run/late_because`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import dagster as dg
from dagster import DagsterEventType, DagsterRunStatus, RunsFilter

from jd_helix.clients.verkada.limits import HELIX_MAX_EVENT_AGE
from jd_helix.defs.helix.assets import helix_events
from jd_helix.defs.hourly_sales.camera_events import transaction_camera_events
from jd_helix.defs.hourly_sales.schedule import hourly_sales_job
from jd_helix.defs.hourly_sales.store_sales import store_sales
from jd_helix.defs.hourly_sales.transactions import jd_transactions
from jd_helix.lib.partitions import (
    PARTITION_KEY_FORMAT,
    hourly_partitions,
    partition_key,
    partition_range_tags,
    run_hour_keys,
)
from jd_helix.lib.run_tags import LATE_BECAUSE_TAG, RECOVERY_ATTEMPT_TAG

FIRST_WAIT = timedelta(minutes=2)
LONGEST_WAIT = timedelta(minutes=30)
# Runs looked at: an hour failing for longer keeps producing failed runs inside this span.
RUNS_SEEN_FOR = timedelta(days=2)
RUNS_SEEN_AT_MOST = 5000
REASON_CHARS = 300

IN_PROGRESS = {
    DagsterRunStatus.QUEUED,
    DagsterRunStatus.NOT_STARTED,
    DagsterRunStatus.STARTING,
    DagsterRunStatus.STARTED,
    DagsterRunStatus.CANCELING,
}
HOURLY_ASSET_KEYS = {asset.key for asset in (jd_transactions, transaction_camera_events, helix_events, store_sales)}


def is_hourly_chain(run: dg.DagsterRun) -> bool:
    """A run over hours of the sales chain (not a check-only run). A whole job's run has no
    asset selection (None or empty): its hours come from its tags all the same."""
    return not run.asset_selection or bool(run.asset_selection & HOURLY_ASSET_KEYS)


def wait_after(failures: int) -> timedelta:
    """The wait after the `failures`-th failure in a row: 2, 4, 8, 16, then 30 minutes."""
    return min(FIRST_WAIT * 2 ** max(failures - 1, 0), LONGEST_WAIT)


@dataclass
class HourState:
    """What the runs say about one hour: its failures since its last success (newest first)."""

    failures: int = 0
    last_failed_run_id: str | None = None
    last_failed_at: float = 0.0
    settled: bool = False  # its newest run succeeded, or a later one decided it already
    running: bool = False


def hour_states(records) -> dict[str, HourState]:
    """Per hour key, from run records of the hourly chain, newest first."""
    states: dict[str, HourState] = {}
    for record in records:
        run = record.dagster_run
        for key in run_hour_keys(run.tags):
            state = states.setdefault(key, HourState())
            if state.settled:
                continue
            if run.status in IN_PROGRESS:
                state.running = True
            elif run.status == DagsterRunStatus.FAILURE:
                if state.last_failed_run_id is None:
                    state.last_failed_run_id = run.run_id
                    state.last_failed_at = record.end_time or record.update_timestamp.timestamp()
                state.failures += 1
            else:  # SUCCESS (or CANCELED by a person: not ours to undo)
                state.settled = True
    return states


def failure_reason(instance: dg.DagsterInstance, run_id: str) -> str:
    """The first failed step's message (the project's Failure description leads), or the run's."""
    for event in instance.all_logs(run_id, of_type=DagsterEventType.STEP_FAILURE):
        data = event.dagster_event and event.dagster_event.step_failure_data
        if data is None:
            continue
        if data.user_failure_data is not None and data.user_failure_data.description:
            return f"{event.step_key}: {data.user_failure_data.description}"
        if data.error is not None:
            return f"{event.step_key}: {data.error.message.strip()}"
    for event in instance.all_logs(run_id, of_type=DagsterEventType.RUN_FAILURE):
        return event.message or "the run failed"
    return "the run failed"


def spans(keys: list[str]) -> list[tuple[str, str]]:
    """Consecutive hour keys grouped into (first, last) spans."""
    hours = sorted(datetime.strptime(key, PARTITION_KEY_FORMAT).replace(tzinfo=UTC) for key in keys)
    result: list[tuple[datetime, datetime]] = []
    for hour in hours:
        if result and hour - result[-1][1] == timedelta(hours=1):
            result[-1] = (result[-1][0], hour)
        else:
            result.append((hour, hour))
    return [(partition_key(first), partition_key(last)) for first, last in result]


@dg.sensor(
    job=hourly_sales_job,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Runs again the hours whose last run failed (an API down, a network cut), waiting 2, 4, 8, 16, "
        "then 30 minutes between attempts, until they are posted; each run is tagged with why it is late."
    ),
)
def hour_recovery_sensor(context: dg.SensorEvaluationContext):
    now = datetime.now(UTC)
    records = context.instance.get_run_records(
        filters=RunsFilter(updated_after=now - RUNS_SEEN_FOR),
        limit=RUNS_SEEN_AT_MOST,
        order_by="create_timestamp",
        ascending=False,
    )
    oldest = max(hourly_partitions.start, now - HELIX_MAX_EVENT_AGE)
    due: dict[str, HourState] = {}
    for key, state in hour_states(r for r in records if is_hourly_chain(r.dagster_run)).items():
        if state.running or state.last_failed_run_id is None:
            continue
        hour = datetime.strptime(key, PARTITION_KEY_FORMAT).replace(tzinfo=UTC)
        failed_at = datetime.fromtimestamp(state.last_failed_at, UTC)
        if hour >= oldest and now >= failed_at + wait_after(state.failures):
            due[key] = state
    if not due:
        return dg.SkipReason("no hour whose last run failed is due for another run")
    requests = []
    for first, last in spans(list(due)):
        in_span = [state for key, state in due.items() if first <= key <= last]
        newest = max(in_span, key=lambda state: state.last_failed_at)
        reason = f"run {newest.last_failed_run_id} failed: {failure_reason(context.instance, newest.last_failed_run_id or '')}"
        attempt = max(state.failures for state in in_span) + 1
        context.log.info(f"Running {first}..{last} again (attempt {attempt}): {reason}")
        requests.append(
            dg.RunRequest(
                job_name=hourly_sales_job.name,
                run_key=f"recover:{first}:{last}:{newest.last_failed_run_id}",
                tags={
                    **partition_range_tags(first, last),
                    LATE_BECAUSE_TAG: reason[:REASON_CHARS],
                    RECOVERY_ATTEMPT_TAG: str(attempt),
                },
            )
        )
    return dg.SensorResult(run_requests=requests)
