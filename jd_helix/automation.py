"""Jobs, the hourly schedule, the dimensions schedule, and the sensors: Helix retries,
re-joining unmapped sales, catching up hours that fell behind.

All ship switched on: the project exists to run unattended.
"""

from datetime import datetime, timedelta, timezone

import dagster as dg

from jd_helix.assets.dimensions import jd_dimension_assets, verkada_cameras
from jd_helix.assets.events import transaction_camera_events
from jd_helix.assets.helix import helix_event_type, helix_events
from jd_helix.assets.sales import jd_transactions
from jd_helix.assets.store_sales import store_sales
from jd_helix.clients.verkada.limits import HELIX_MAX_EVENT_AGE
from jd_helix.helix_status import HelixStatus
from jd_helix.partitions import hourly_partitions, partition_key, partition_range_tags
from jd_helix.resources.helix_settings import HelixSettings
from jd_helix.resources.hourly_settings import HourlySettings
from jd_helix.resources.warehouse import WarehouseResource, open_read_only

# Sales can reach the JD API a little after they happen: the hour's run starts 15 minutes
# after the hour ends and also re-reads the hours before it (idempotent: each hour is
# replaced whole and the ledger never re-posts what is posted).
HOURLY_RUN_MINUTE = 15
# What decides a sale's camera: the names and ids of both camera lists. Its hash is the
# sensor's cursor, so a refresh that changes nothing re-joins nothing.
CAMERA_LISTS_VERSION_SQL = """
SELECT md5(coalesce(string_agg(entry, '|' ORDER BY entry), '')) FROM (
    SELECT 'verkada:' || camera_id || ':' || coalesce(lower(trim(name)), '') AS entry FROM verkada_cameras
    UNION ALL
    SELECT 'jd:' || camera_id || ':' || coalesce(lower(trim(camera_name)), '') FROM jd_cameras
)
"""
# A ledger row still 'pending' this long after it was pinned belongs to a run that died
# (SIGKILL, deploy, machine loss) and was not retried: re-post it (same pinned triple).
STALE_PENDING = timedelta(hours=1)

dimensions_job = dg.define_asset_job(
    "dimensions_job",
    selection=[*jd_dimension_assets, verkada_cameras, helix_event_type],
    description="Refreshes the reference data (JD stores, tills, cameras, items; Verkada cameras) and the Helix event type.",
)

hourly_sales_job = dg.define_asset_job(
    "hourly_sales_job",
    selection=[jd_transactions, transaction_camera_events, helix_events, store_sales],
    description="The hourly chain: jd_transactions -> transaction_camera_events -> helix_events (-> store_sales).",
)

helix_retry_job = dg.define_asset_job(
    "helix_retry_job",
    selection=[helix_events, store_sales],
    description="Re-posts an hour's failed Helix events (launched by helix_retry_sensor).",
)

helix_remap_job = dg.define_asset_job(
    "helix_remap_job",
    selection=[transaction_camera_events, helix_events, store_sales],
    description="Re-joins hours with fresh reference data and posts sales that now have a camera (launched by rejoin_unmapped_sensor).",
)

# Runs the hours of transaction_camera_events, helix_events and store_sales that fell
# behind their upstream hour (see catch_up.py); one backfill per tick at most.
hourly_catch_up_sensor = dg.AutomationConditionSensorDefinition(
    "hourly_catch_up_sensor",
    target=dg.AssetSelection.assets(transaction_camera_events, helix_events, store_sales),
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=60,
    description=(
        "Runs the hours downstream of an hour that was materialized on its own (e.g. only "
        "jd_transactions picked in the UI), so every hour reaches Helix."
    ),
)


def hours_to_run(scheduled_at: datetime, lookback: int) -> tuple[str, str]:
    """The partition range a tick runs: the hour that just ended and `lookback` before it."""
    last_hour = scheduled_at.astimezone(timezone.utc).replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    first_hour = max(last_hour - timedelta(hours=lookback), hourly_partitions.start)
    return partition_key(first_hour), partition_key(last_hour)


@dg.schedule(
    cron_schedule=f"{HOURLY_RUN_MINUTE} * * * *",
    job=hourly_sales_job,
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Each hour, once it has ended (plus 15 minutes for late sales), with a look-back of hourly_settings.lookback_hours (JD_HELIX_LOOKBACK_HOURS).",
)
def hourly_sales_schedule(context: dg.ScheduleEvaluationContext, hourly_settings: HourlySettings) -> dg.RunRequest:
    first, last = hours_to_run(context.scheduled_execution_time, hourly_settings.lookback_hours)
    return dg.RunRequest(
        run_key=last,
        tags=partition_range_tags(first, last),
    )


dimensions_schedule = dg.ScheduleDefinition(
    name="dimensions_schedule",
    job=dimensions_job,
    cron_schedule="5 * * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Refreshes the reference data every hour, ten minutes before the hourly sales run.",
)


WAREHOUSE_BUSY = "the warehouse is being written (or does not exist yet); trying next tick"


def read_warehouse(warehouse: WarehouseResource, sql: str, params: list) -> list[tuple] | None:
    """Rows of `sql` on a read-only connection, or None while a run writes the file (sensors never wait)."""
    conn = open_read_only(warehouse.database)
    if conn is None:
        return None
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


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
def helix_retry_sensor(context: dg.SensorEvaluationContext, warehouse: WarehouseResource, helix_settings: HelixSettings):
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    failed_hours = read_warehouse(
        warehouse,
        """
        SELECT sale_hour, max(attempts), max(coalesce(last_attempt_at, pinned_at)) FROM helix_events
        WHERE (status = ? AND attempts < ?) OR (status = ? AND pinned_at < ?)
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
            partition_key=partition_key(hour.replace(tzinfo=timezone.utc)),
            # Pending rows keep attempts=0 across kills: the tick's hour in the key keeps a
            # killed retry from being de-duplicated forever.
            run_key=f"retry:{partition_key(hour.replace(tzinfo=timezone.utc))}:{attempts}:{now:%Y%m%d%H}",
        )
        for hour, attempts, last_attempt_at in failed_hours
        if retry_due(attempts, last_attempt_at, now, helix_settings.retry_base_minutes)
        and hour.replace(tzinfo=timezone.utc) >= first_hour
    ]
    if not requests:
        return dg.SkipReason("no failed events due for a retry")
    return dg.SensorResult(run_requests=requests)


@dg.sensor(
    job=helix_remap_job,
    minimum_interval_seconds=120,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "When a refresh changes the JD or Verkada camera lists, re-joins the hours that have unmapped "
        "sales (one run over their span) so that sales whose camera now exists are posted."
    ),
)
def rejoin_unmapped_sensor(context: dg.SensorEvaluationContext, warehouse: WarehouseResource):
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    first_hour = hourly_partitions.start.replace(tzinfo=None)
    found = read_warehouse(
        warehouse,
        f"""
        SELECT ({CAMERA_LISTS_VERSION_SQL}), min(sale_hour), max(sale_hour)
        FROM helix_events WHERE status = ? AND sale_hour >= ?
        """,
        # Sales older than Helix's window are beyond its reach: no point re-joining them.
        [HelixStatus.UNMAPPED, max(now - HELIX_MAX_EVENT_AGE, first_hour)],
    )
    if found is None:
        return dg.SkipReason(WAREHOUSE_BUSY)
    [(cameras_version, unmapped_first, unmapped_last)] = found
    # The first tick only learns the current version; a refresh that changes nothing re-joins nothing.
    if context.cursor is None or cameras_version == context.cursor or unmapped_first is None:
        return dg.SensorResult(skip_reason="the camera lists have not changed, or no sale is unmapped", cursor=cameras_version)
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(
                job_name=helix_remap_job.name,
                run_key=f"remap:{cameras_version}",
                tags=partition_range_tags(
                    partition_key(unmapped_first.replace(tzinfo=timezone.utc)),
                    partition_key(unmapped_last.replace(tzinfo=timezone.utc)),
                ),
            )
        ],
        cursor=cameras_version,
    )
