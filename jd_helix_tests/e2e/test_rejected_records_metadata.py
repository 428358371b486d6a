"""Each write of jd_rejected_records is one of its materializations, and its latest one
describes the table as it is (rows in all, and per endpoint), not only that write."""

from datetime import timedelta
from typing import cast

import dagster as dg

from jd_helix.sandbox import Sandbox, SandboxConfig
from jd_helix_tests.e2e.harness import query, recent_hours, refresh_dimensions, resources_for, run_hour

# Oddities on: records are set aside both by the refresh and by the hours.
CONFIG = SandboxConfig(
    seed=5,
    stores=3,
    pos_per_store=2,
    items=20,
    fixed_sales_per_hour=80,
    rate_limit_per_5s=None,
    rate_limit_per_minute=None,
)


def test_the_latest_materialization_describes_the_whole_table(tmp_path):
    database = str(tmp_path / "rejected.duckdb")
    with dg.instance_for_test() as instance, Sandbox.running(CONFIG, port=0) as sandbox:
        resources = resources_for(sandbox, database)
        assert refresh_dimensions(resources, instance=instance).success
        hour = recent_hours(1)[0]
        assert run_hour(resources, hour, instance=instance).success
        assert run_hour(resources, hour - timedelta(hours=1), instance=instance).success
        latest = instance.get_latest_materialization_event(dg.AssetKey("jd_rejected_records"))
    assert latest is not None and latest.asset_materialization is not None
    metadata = {key: value.value for key, value in latest.asset_materialization.metadata.items()}
    per_endpoint = dict(query(database, "SELECT endpoint, count(*) FROM jd_rejected_records GROUP BY 1"))
    assert len(per_endpoint) > 1, per_endpoint  # the refresh's and the hours' rejections
    assert metadata["dagster/row_count"] == sum(per_endpoint.values())
    assert {
        key.removeprefix("table/"): value for key, value in metadata.items() if key.startswith("table/")
    } == per_endpoint
    assert cast("int", metadata["rejected"]) < cast(
        "int", metadata["dagster/row_count"]
    )  # that write's own figure is beside it
