"""The figures an asset's step reported, read back from a `dg.materialize` result."""

from typing import Any


def step_figures(result: Any, asset_name: str) -> dict[str, Any]:
    """The asset's own materialization metadata as plain values, run-wide figures without their
    "run/" prefix. The node may also materialize jd_rejected_records (the records it set aside)."""
    import dagster as dg

    from jd_helix.lib.hourly_table import RUN_PREFIX

    materialization = next(
        m for m in result.asset_materializations_for_node(asset_name) if m.asset_key == dg.AssetKey(asset_name)
    )
    return {
        key.removeprefix(RUN_PREFIX): getattr(value, "value", value) for key, value in materialization.metadata.items()
    }
