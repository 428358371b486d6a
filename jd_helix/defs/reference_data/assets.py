"""The reference data behind every sale: JD's stores, points of sale, cameras and items,
and Verkada's camera list. Unpartitioned; each refresh replaces its table whole."""

import time
from collections import Counter
from datetime import UTC, datetime

import dagster as dg
import pandas as pd

from jd_helix.clients.jd.records import DIMENSIONS, DimensionSpec, parse_dimension_records
from jd_helix.defs.hourly_sales.rejected_records import (
    REFRESH_SCOPE,
    log_rejected_counts,
    reason_metadata,
    replace_rejections,
    table_figures,
)
from jd_helix.lib.asset_defaults import DUCKDB_WRITER_POOL, OWNERS
from jd_helix.lib.failures import TRANSIENT_RETRY, explained_failures
from jd_helix.lib.metadata import preview
from jd_helix.lib.tables import table_metadata
from jd_helix.resources.jd_api import JdApiResource
from jd_helix.resources.verkada import VerkadaResource
from jd_helix.resources.warehouse import WarehouseResource

GROUP = "reference_data"

_DESCRIPTIONS = {
    "jd_stores": "JD Sports stores (GET /v1/stores), one row per store_id.",
    "jd_points_of_sale": "Points of sale (tills), each with its store and camera (GET /v1/points-of-sale).",
    "jd_cameras": "JD's cameras, one per till, with the name Verkada knows them by (GET /v1/cameras).",
    "jd_items": "Inventory items with name and price (GET /v1/inventory).",
}

# Columns written per table, in table order; prices arrive as integer cents.
_INSERT_SELECT = {
    "jd_stores": "store_id, store_name, store_address, store_phone, store_email",
    "jd_points_of_sale": "pos_id, camera_id, pos_name, store_id",
    "jd_cameras": "camera_id, camera_name, camera_location, camera_status, camera_model, pos_id",
    "jd_items": "item_id, item_name, cents_to_money(item_price_cents), item_quantity",
}


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _build_jd_dimension(table: str, spec: DimensionSpec) -> dg.AssetsDefinition:
    @dg.asset(
        name=table,
        group_name=GROUP,
        kinds={"duckdb", "python"},
        pool=DUCKDB_WRITER_POOL,
        owners=OWNERS,
        metadata=table_metadata(table),
        description=_DESCRIPTIONS[table],
        retry_policy=TRANSIENT_RETRY,
    )
    @explained_failures
    def _dimension(
        context: dg.AssetExecutionContext, jd_api: JdApiResource, warehouse: WarehouseResource
    ) -> dg.MaterializeResult:
        started = time.monotonic()
        client = jd_api.get_client()
        try:
            records = client.fetch_all(spec.endpoint)
        finally:
            client.close()
        rows, rejected = parse_dimension_records(spec, records)
        frame = pd.DataFrame(list(rows.values()))
        loaded_at = _now()
        with warehouse.write() as conn:
            conn.execute(f"DELETE FROM {table}")
            if not frame.empty:
                conn.execute(f"INSERT INTO {table} SELECT {_INSERT_SELECT[table]}, ? FROM frame", [loaded_at])
            replace_rejections(conn, spec.endpoint, [REFRESH_SCOPE], ((REFRESH_SCOPE, r) for r in rejected), loaded_at)
            shown = conn.execute(f"SELECT * EXCLUDE (loaded_at) FROM {table} LIMIT 10").df()
            rejected_table = table_figures(conn)
        if rejected:
            context.log.warning(f"{spec.endpoint}: {len(rejected)} records set aside (see jd_rejected_records)")
        rejected_counts = Counter(r.key for r in rejected)
        log_rejected_counts(context, spec.endpoint, [REFRESH_SCOPE], rejected_counts, rejected_table)
        return dg.MaterializeResult(
            metadata={
                "dagster/row_count": len(rows),
                "records_received": len(records),
                "rejected": len(rejected),
                **reason_metadata(rejected_counts),
                "pages": client.pages_fetched,
                "requests": client.requests_made,
                "duration_s": round(time.monotonic() - started, 3),
                "preview": preview(shown),
            }
        )

    return _dimension


jd_dimension_assets = [_build_jd_dimension(table, spec) for table, spec in DIMENSIONS.items()]


@dg.asset(
    group_name=GROUP,
    kinds={"duckdb", "verkada"},
    pool=DUCKDB_WRITER_POOL,
    owners=OWNERS,
    metadata=table_metadata("verkada_cameras"),
    description="Verkada's camera list (GET /cameras/v1/devices): the cameras a sale can be posted to.",
    retry_policy=TRANSIENT_RETRY,
)
@explained_failures
def verkada_cameras(verkada: VerkadaResource, warehouse: WarehouseResource) -> dg.MaterializeResult:
    started = time.monotonic()
    client = verkada.get_client()
    cameras = client.list_cameras()
    # Last one wins if the API ever lists a camera twice.
    by_id = {str(c["camera_id"]): c for c in cameras if c.get("camera_id")}
    frame = pd.DataFrame(
        [
            {
                "camera_id": camera_id,
                "name": c.get("name"),
                "site": c.get("site"),
                "site_id": c.get("site_id"),
                "model": c.get("model"),
                "serial": c.get("serial"),
                "status": c.get("status"),
            }
            for camera_id, c in by_id.items()
        ],
        columns=["camera_id", "name", "site", "site_id", "model", "serial", "status"],
    )
    with warehouse.write() as conn:
        conn.execute("DELETE FROM verkada_cameras")
        conn.execute("INSERT INTO verkada_cameras SELECT *, ? FROM frame", [_now()])
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(by_id),
            "requests": client.requests_made,
            "duration_s": round(time.monotonic() - started, 3),
            "preview": preview(frame),
        }
    )
