"""The reference data's job and its hourly schedule (ships switched on)."""

import dagster as dg

from jd_helix.defs.helix.assets import helix_event_type
from jd_helix.defs.reference_data.assets import jd_dimension_assets, verkada_cameras

dimensions_job = dg.define_asset_job(
    "dimensions_job",
    selection=[*jd_dimension_assets, verkada_cameras, helix_event_type],
    description="Refreshes the reference data (JD stores, tills, cameras, items; Verkada cameras) and the Helix event type.",
)


dimensions_schedule = dg.ScheduleDefinition(
    name="dimensions_schedule",
    job=dimensions_job,
    cron_schedule="5 * * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Refreshes the reference data every hour, ten minutes before the hourly sales run.",
)
