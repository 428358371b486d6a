"""The hourly chain's job, its schedule, and the sensor that catches up hours left behind.

All ship switched on: the project exists to run unattended.
"""

from datetime import UTC, datetime, timedelta

import dagster as dg

from jd_helix.defs.exceptions.assets import transaction_exceptions
from jd_helix.defs.helix.assets import helix_events
from jd_helix.defs.hourly_sales.camera_events import transaction_camera_events
from jd_helix.defs.hourly_sales.store_sales import store_sales
from jd_helix.defs.hourly_sales.transactions import jd_transactions
from jd_helix.lib.partitions import hourly_partitions, partition_key, partition_range_tags
from jd_helix.resources.hourly_settings import HourlySettings

# Sales can reach the JD API a little after they happen: the hour's run starts 15 minutes
# after the hour ends and also re-reads the hours before it (idempotent: each hour is
# replaced whole and the ledger never re-posts what is posted).
HOURLY_RUN_MINUTE = 15

hourly_sales_job = dg.define_asset_job(
    "hourly_sales_job",
    selection=[jd_transactions, transaction_camera_events, transaction_exceptions, helix_events, store_sales],
    description="The hourly chain: jd_transactions -> transaction_camera_events -> helix_events (-> store_sales).",
)

# Runs the hours of transaction_camera_events, helix_events and store_sales that fell
# behind their upstream hour (see lib/catch_up.py); one backfill per tick at most.
hourly_catch_up_sensor = dg.AutomationConditionSensorDefinition(
    "hourly_catch_up_sensor",
    target=dg.AssetSelection.assets(transaction_camera_events, transaction_exceptions, helix_events, store_sales),
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=60,
    description=(
        "Runs the hours downstream of an hour that was materialized on its own (e.g. only "
        "jd_transactions picked in the UI), so every hour reaches Helix."
    ),
)


def hours_to_run(scheduled_at: datetime, lookback: int) -> tuple[str, str]:
    """The partition range a tick runs: the hour that just ended and `lookback` before it."""
    last_hour = scheduled_at.astimezone(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
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
