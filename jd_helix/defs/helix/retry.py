"""Re-posting what failed: helix_retry_sensor launches helix_retry_job for hours whose events
failed (after growing waits) or were left pending by a run that died."""

from datetime import UTC, datetime, timedelta

import dagster as dg

from jd_helix.defs.helix.assets import helix_events
from jd_helix.defs.hourly_sales.store_sales import store_sales
from jd_helix.domain.helix_status import HelixStatus
from jd_helix.lib.partitions import hourly_partitions, partition_key
from jd_helix.lib.warehouse_reads import WAREHOUSE_BUSY, read_warehouse
from jd_helix.resources.helix_settings import HelixSettings
from jd_helix.resources.warehouse import WarehouseResource

# A ledger row still 'pending' this long after it was pinned belongs to a run that died
# (SIGKILL, deploy, machine loss) and was not retried: re-post it (same pinned triple).
STALE_PENDING = timedelta(hours=1)

helix_retry_job = dg.define_asset_job(
    "helix_retry_job",
    selection=[helix_events, store_sales],
    description="Re-posts an hour's failed Helix events (launched by helix_retry_sensor).",
)


def retry_due(attempts: int, last_attempt_at: datetime, now: datetime, base_minutes: float) -> bool:
    """Wait base, 2x base, 4x base... after each failed attempt."""
    wait = timedelta(minutes=base_minutes * 2 ** max(attempts - 1, 0))
    return last_attempt_at + wait <= now


@dg.sensor(
    job=helix_retry_job,
    minimum_interval_seconds=120,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Re-posts hours with failed Helix events (or events left pending by a run that died), waiting "
        "longer after each attempt, until they post or run out of attempts."
    ),
)
def helix_retry_sensor(
    context: dg.SensorEvaluationContext, warehouse: WarehouseResource, helix_settings: HelixSettings
):
    now = datetime.now(UTC).replace(tzinfo=None)
    failed_hours = read_warehouse(
        warehouse,
        """
        SELECT sale_hour, max(attempts), max(coalesce(last_attempt_at, pinned_at)) FROM helix_events
        WHERE ((status = ? AND attempts < ?) OR (status = ? AND pinned_at < ?))
          -- the declared event types' rows: a type no longer declared is not posted to
          AND event_type_uid IN (SELECT event_type_uid FROM helix_destination)
        GROUP BY sale_hour ORDER BY sale_hour
        """,
        [HelixStatus.FAILED, helix_settings.max_attempts, HelixStatus.PENDING, now - STALE_PENDING],
    )
    if failed_hours is None:
        return dg.SkipReason(WAREHOUSE_BUSY)
    first_hour = hourly_partitions.start
    requests = [
        dg.RunRequest(
            job_name=helix_retry_job.name,
            partition_key=partition_key(hour.replace(tzinfo=UTC)),
            # Pending rows keep attempts=0 across kills: the tick's hour in the key keeps a
            # killed retry from being de-duplicated forever.
            run_key=f"retry:{partition_key(hour.replace(tzinfo=UTC))}:{attempts}:{now:%Y%m%d%H}",
        )
        for hour, attempts, last_attempt_at in failed_hours
        if retry_due(attempts, last_attempt_at, now, helix_settings.retry_base_minutes)
        and hour.replace(tzinfo=UTC) >= first_hour
    ]
    if not requests:
        return dg.SkipReason("no failed events due for a retry")
    return dg.SensorResult(run_requests=requests)
