"""An hourly asset that does nothing, with jd_transactions' resources: what a materialization
costs in Dagster alone (extract.py's `dagster_empty`). Import after JD_HELIX_START is set."""

import dagster as dg

from jd_helix.lib.asset_defaults import hourly_asset
from jd_helix.resources.jd_api import JdApiResource
from jd_helix.resources.warehouse import WarehouseResource


@hourly_asset()
def empty_hourly_asset(
    context: dg.AssetExecutionContext, jd_api: JdApiResource, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={"rows": 0})
