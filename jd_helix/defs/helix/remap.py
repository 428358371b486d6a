"""Re-joining unmapped sales: when a refresh changes the camera lists, rejoin_unmapped_sensor
launches helix_remap_job over the hours that have sales with no Verkada camera."""

from datetime import UTC, datetime

import dagster as dg

from jd_helix.clients.verkada.limits import HELIX_MAX_EVENT_AGE
from jd_helix.defs.exceptions.assets import transaction_exceptions
from jd_helix.defs.helix.assets import helix_events
from jd_helix.defs.hourly_sales.camera_events import transaction_camera_events
from jd_helix.defs.hourly_sales.store_sales import store_sales
from jd_helix.domain.helix_status import HelixStatus
from jd_helix.lib.partitions import hourly_partitions, partition_key, partition_range_tags
from jd_helix.lib.warehouse_reads import WAREHOUSE_BUSY, read_warehouse
from jd_helix.resources.warehouse import WarehouseResource

# What decides a sale's camera: the names and ids of both camera lists. Its hash is the
# sensor's cursor, so a refresh that changes nothing re-joins nothing.
CAMERA_LISTS_VERSION_SQL = """
SELECT md5(coalesce(string_agg(entry, '|' ORDER BY entry), '')) FROM (
    SELECT 'verkada:' || camera_id || ':' || coalesce(lower(trim(name)), '') AS entry FROM verkada_cameras
    UNION ALL
    SELECT 'jd:' || camera_id || ':' || coalesce(lower(trim(camera_name)), '') FROM jd_cameras
)
"""

helix_remap_job = dg.define_asset_job(
    "helix_remap_job",
    selection=[transaction_camera_events, transaction_exceptions, helix_events, store_sales],
    description="Re-joins hours with fresh reference data and posts sales that now have a camera (launched by rejoin_unmapped_sensor).",
)


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
    now = datetime.now(UTC).replace(tzinfo=None)
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
        return dg.SensorResult(
            skip_reason="the camera lists have not changed, or no sale is unmapped", cursor=cameras_version
        )
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(
                job_name=helix_remap_job.name,
                run_key=f"remap:{cameras_version}",
                tags=partition_range_tags(
                    partition_key(unmapped_first.replace(tzinfo=UTC)),
                    partition_key(unmapped_last.replace(tzinfo=UTC)),
                ),
            )
        ],
        cursor=cameras_version,
    )
