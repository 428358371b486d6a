"""`transaction_camera_events`: each sale joined, inside DuckDB, to its item, JD camera,
Verkada camera, till and store: the events to post to Helix."""

import time
from datetime import UTC, datetime

import dagster as dg

from jd_helix.defs.hourly_sales.transactions import jd_transactions
from jd_helix.defs.reference_data.assets import jd_dimension_assets, verkada_cameras
from jd_helix.domain.time_utils import naive_utc
from jd_helix.lib.asset_defaults import DUCKDB_WRITER_POOL, hourly_asset
from jd_helix.lib.catch_up import catch_up_condition
from jd_helix.lib.failures import explained_failures
from jd_helix.lib.hourly_table import HourlyTable, HourWindow, hourly_result
from jd_helix.lib.tables import table_metadata
from jd_helix.resources.warehouse import WarehouseResource

# How a JD camera becomes a Verkada camera: by name (case-insensitive) when exactly one
# Verkada camera has it, else by id when the JD id already is a Verkada camera id.
# A sale that maps to nothing is kept, with the reason, and posted once a camera appears.
BUILD_EVENTS_SQL = """
WITH sales AS (
    SELECT * FROM jd_transactions WHERE sale_hour >= $start AND sale_hour < $end
),
verkada_names AS (
    SELECT lower(trim(name)) AS name_key, count(*) AS cameras, any_value(camera_id) AS camera_id
    FROM verkada_cameras WHERE name IS NOT NULL GROUP BY 1
),
camera_map AS (
    SELECT s.camera_id AS jd_camera_id,
           any_value(c.camera_name) AS jd_camera_name,
           any_value(c.pos_id) AS camera_pos_id,
           any_value(CASE WHEN n.cameras = 1 THEN n.camera_id END) AS by_name,
           any_value(n.cameras) AS same_name_cameras,
           any_value(v.camera_id) AS by_id,
           bool_or(c.camera_id IS NOT NULL) AS known_to_jd
    FROM (SELECT DISTINCT camera_id FROM sales) s
    LEFT JOIN jd_cameras c ON c.camera_id = s.camera_id
    LEFT JOIN verkada_names n ON n.name_key = lower(trim(c.camera_name))
    LEFT JOIN verkada_cameras v ON v.camera_id = s.camera_id
    GROUP BY s.camera_id
),
till_of_camera AS (
    SELECT camera_id, min(pos_id) AS pos_id FROM jd_points_of_sale GROUP BY camera_id
)
SELECT s.sale_hour, s.transaction_id, s.transaction_at, s.time_ms, s.transaction_amount,
       s.item_id, i.item_name,
       s.camera_id AS jd_camera_id, m.jd_camera_name,
       coalesce(m.by_name, m.by_id) AS verkada_camera_id,
       CASE WHEN m.by_name IS NOT NULL THEN 'name' WHEN m.by_id IS NOT NULL THEN 'id' END AS mapped_by,
       CASE
           WHEN coalesce(m.by_name, m.by_id) IS NOT NULL THEN NULL
           WHEN m.same_name_cameras > 1 THEN 'several Verkada cameras are named ' || m.jd_camera_name
           WHEN m.known_to_jd THEN 'no Verkada camera is named ' || coalesce(m.jd_camera_name, '(no name)')
           ELSE 'camera ' || s.camera_id || ' is not in the JD camera list'
       END AS unmapped_reason,
       p.pos_id, p.pos_name, st.store_id, st.store_name,
       $built_at AS built_at
FROM sales s
JOIN camera_map m ON m.jd_camera_id = s.camera_id
LEFT JOIN jd_items i ON i.item_id = s.item_id
LEFT JOIN till_of_camera tc ON tc.camera_id = s.camera_id
LEFT JOIN jd_points_of_sale p ON p.pos_id = coalesce(m.camera_pos_id, tc.pos_id)
LEFT JOIN jd_stores st ON st.store_id = p.store_id
"""


TABLE = HourlyTable(
    name="transaction_camera_events",
    preview_columns=(
        "transaction_id, transaction_at, transaction_amount, item_name, store_name, pos_name, "
        "verkada_camera_id, unmapped_reason"
    ),
    preview_order="transaction_at, transaction_id",
    figures={
        "mapped": "count(verkada_camera_id)",
        "unmapped": "count(*) FILTER (WHERE verkada_camera_id IS NULL)",
        "mapped_by_name": "count(*) FILTER (WHERE mapped_by = 'name')",
        "mapped_by_id": "count(*) FILTER (WHERE mapped_by = 'id')",
    },
)


@hourly_asset(
    deps=[jd_transactions, verkada_cameras, *jd_dimension_assets],
    kinds={"duckdb", "sql"},
    pool=DUCKDB_WRITER_POOL,
    metadata=table_metadata("transaction_camera_events"),
    automation_condition=catch_up_condition(),
    description=(
        "The hour's sales joined to item, JD camera, Verkada camera, till and store: one row "
        "per sale, with the Verkada camera it will be posted to, or why there is none."
    ),
)
@explained_failures
def transaction_camera_events(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    started = time.monotonic()
    window = HourWindow.of(context)
    with warehouse.write(bulk=True) as conn:
        TABLE.replace(conn, window, BUILD_EVENTS_SQL, {"built_at": naive_utc(datetime.now(UTC))})
        per_hour = TABLE.figures_by_hour(conn, window)
    return hourly_result(context, window, per_hour, run_wide={"duration_s": round(time.monotonic() - started, 3)})
