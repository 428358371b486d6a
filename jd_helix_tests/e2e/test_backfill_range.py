"""A backfill run over many hours lands exactly what one run per hour lands."""

from datetime import timedelta

from jd_helix.sandbox import Sandbox, SandboxConfig
from jd_helix_tests.e2e.harness import query, recent_hours, refresh_dimensions, resources_for, run_hour, run_hours

HOURS = recent_hours(24)
CONFIG = SandboxConfig(seed=5, fixed_sales_per_hour=60, rate_limit_per_5s=None, rate_limit_per_minute=None)
TABLES = {
    "jd_transactions": "* EXCLUDE (loaded_at)",
    "transaction_camera_events": "* EXCLUDE (built_at)",
    "store_sales": "* EXCLUDE (built_at)",
    "helix_events": "transaction_id, sale_hour, verkada_camera_id, time_ms, status, reason, attempts",
    "jd_rejected_records": "endpoint, scope, field, reason, raw",
}


def land(tmp_path, name, run):
    database = str(tmp_path / f"{name}.duckdb")
    with Sandbox.running(CONFIG, port=0) as sandbox:
        resources = resources_for(sandbox, database)
        assert refresh_dimensions(resources).success
        run(resources)
        tables = {t: sorted(query(database, f"SELECT {c} FROM {t}"), key=repr) for t, c in TABLES.items()}
        events = sorted((e["camera_id"], e["time_ms"], sorted(e["attributes"].items())) for e in sandbox.helix_events())
        sales = sum(len(sandbox.truth(h, h + timedelta(hours=1)).valid) for h in HOURS)
    return tables, events, sales


def test_one_run_over_24_hours_equals_24_single_hour_runs(tmp_path):
    def one_run(resources):
        result = run_hours(resources, HOURS[0], HOURS[-1])
        assert result.success
        # One step fetched all 24 hours; Dagster records a materialization per hour.
        materialized = [
            m
            for m in result.asset_materializations_for_node("jd_transactions")
            if m.asset_key.path == ["jd_transactions"]
        ]
        assert len(materialized) == 24
        assert all(m.metadata["run/hours"].value == 24 for m in materialized)

    def hour_by_hour(resources):
        for hour in HOURS:
            assert run_hour(resources, hour).success

    ranged, ranged_events, sales = land(tmp_path, "ranged", one_run)
    single, single_events, _ = land(tmp_path, "single", hour_by_hour)
    assert len(ranged["jd_transactions"]) == sales > 24 * 20
    for table in TABLES:
        assert ranged[table] == single[table], table
    assert ranged_events == single_events and len(ranged_events) > 0
