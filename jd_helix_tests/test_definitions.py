"""The code location loads, and its public names (the README's tables) stay put."""

from datetime import UTC
from typing import cast

import dagster as dg
import pytest
from dagster._core.definitions.freshness import CronFreshnessPolicy

from jd_helix.definitions import defs

HOURLY = {
    "jd_transactions",
    "transaction_camera_events",
    "transaction_exceptions",
    "helix_events",
    "store_sales",
    "helix_audit",
}
UNPARTITIONED = {"jd_stores", "jd_points_of_sale", "jd_cameras", "jd_items", "verkada_cameras", "helix_event_type"}


def test_definitions_load():
    dg.Definitions.validate_loadable(defs)


def test_asset_graph_is_frozen():
    graph = defs.resolve_asset_graph()
    keys = {key.to_user_string() for key in graph.get_all_asset_keys()}
    assert keys == HOURLY | UNPARTITIONED | {"jd_rejected_records"}
    rejected = graph.get(dg.AssetKey("jd_rejected_records"))
    assert not rejected.is_materializable  # written by the assets that fetch the records
    assert {p.to_user_string() for p in rejected.parent_keys} == {
        "jd_transactions",
        "jd_stores",
        "jd_points_of_sale",
        "jd_cameras",
        "jd_items",
    }
    for key in HOURLY:
        node = graph.get(dg.AssetKey(key))
        assert node.partitions_def is not None and node.backfill_policy is not None, key
    for key in UNPARTITIONED:
        assert graph.get(dg.AssetKey(key)).partitions_def is None, key
    parents = {key: {p.to_user_string() for p in graph.get(dg.AssetKey(key)).parent_keys} for key in HOURLY}
    assert parents["transaction_camera_events"] == {"jd_transactions", *UNPARTITIONED} - {"helix_event_type"}
    assert parents["transaction_exceptions"] == {"transaction_camera_events", "jd_items"}
    assert parents["helix_events"] == {"transaction_camera_events", "transaction_exceptions", "helix_event_type"}
    assert parents["store_sales"] == {"transaction_camera_events", "helix_events"}
    assert parents["helix_audit"] == {"helix_events"}


def test_every_asset_that_writes_duckdb_is_in_a_pool_of_its_own_kind():
    graph = defs.resolve_asset_graph()
    pools = {key.to_user_string(): graph.get(key).pools for key in graph.materializable_asset_keys}
    assert pools["helix_events"] == {"verkada_helix"}
    assert pools["jd_transactions"] == {"duckdb_writer"}
    assert pools["helix_audit"] == {"helix_audit"}  # one audit at a time; never holds up posting or the writers
    assert all(pool for pool in pools.values())


def test_jobs_schedules_and_sensor_have_their_public_names_and_ship_switched_on():
    for name in ("dimensions_job", "hourly_sales_job"):
        assert defs.resolve_job_def(name)
    schedule = defs.resolve_schedule_def("hourly_sales_schedule")
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    assert defs.resolve_schedule_def("dimensions_schedule").default_status == dg.DefaultScheduleStatus.RUNNING
    for name in ("helix_retry_sensor", "rejoin_unmapped_sensor", "hourly_catch_up_sensor"):
        assert defs.resolve_sensor_def(name).default_status == dg.DefaultSensorStatus.RUNNING, name
    assert defs.resolve_schedule_def("helix_freshness_schedule").default_status == dg.DefaultScheduleStatus.RUNNING
    assert defs.resolve_job_def("helix_audit_job")
    for name in ("helix_audit_schedule", "helix_audit_sweep_schedule"):
        assert defs.resolve_schedule_def(name).default_status == dg.DefaultScheduleStatus.RUNNING, name


def test_the_column_catalogue_describes_exactly_the_migrated_columns_of_the_tables_the_assets_show():
    # The migrations are the one source of the columns; lib/tables.py adds only their meaning.
    from jd_helix.lib.tables import DESCRIPTIONS
    from jd_helix.resources.migrated_schema import migrated_tables

    tables = migrated_tables()
    for table, described in DESCRIPTIONS.items():
        assert table in tables, f"lib/tables.py describes {table}, a table no migration creates"
        columns = [column.name for column in tables[table].columns]
        stale = sorted(set(described) - set(columns))
        assert not stale, f"lib/tables.py describes columns {table} does not have: {stale}"
        undescribed = [name for name in columns if not described.get(name)]
        assert not undescribed, f"columns of {table} with no description in lib/tables.py: {undescribed}"
    graph = defs.resolve_asset_graph()
    shown = {
        key.to_user_string(): graph.get(key).metadata.get("dagster/table_name")
        for key in graph.get_all_asset_keys()
        if "dagster/table_name" in graph.get(key).metadata
    }
    assert shown == {table: f"jd_helix.main.{table}" for table in DESCRIPTIONS}


def test_every_table_asset_shows_its_columns_as_a_warehouse_file_holds_them(tmp_path):
    from jd_helix.lib.tables import DESCRIPTIONS
    from jd_helix.resources.warehouse import WarehouseResource

    warehouse = WarehouseResource(database=str(tmp_path / "schema.duckdb"))
    with warehouse.read() as conn:
        actual = {}
        for table, column, kind, nullable in conn.execute(
            "SELECT table_name, column_name, data_type, is_nullable = 'YES' FROM information_schema.columns "
            "ORDER BY table_name, ordinal_position"
        ).fetchall():
            actual.setdefault(table, []).append((column, kind, nullable))
    graph = defs.resolve_asset_graph()
    for table, described in DESCRIPTIONS.items():
        schema = graph.get(dg.AssetKey(table)).metadata["dagster/column_schema"]
        assert [(c.name, c.type, c.constraints.nullable) for c in schema.columns] == actual[table], table
        assert [c.description for c in schema.columns] == [described.get(name) for name, _, _ in actual[table]], table
    ledger = graph.get(dg.AssetKey("helix_events")).metadata["dagster/column_schema"]
    assert ledger.constraints.other == ["primary key (transaction_id, event_type_uid)"]
    stores = graph.get(dg.AssetKey("jd_stores")).metadata["dagster/column_schema"]
    assert [c.name for c in stores.columns if c.constraints.unique] == ["store_id"]


def test_downstream_hours_are_caught_up_by_automation():
    graph = defs.resolve_asset_graph()
    for key in ("transaction_camera_events", "helix_events", "store_sales"):
        assert graph.get(dg.AssetKey(key)).automation_condition is not None, key
    assert graph.get(dg.AssetKey("jd_transactions")).automation_condition is None  # the schedule runs it


def test_partitions_start_a_few_days_back_unless_pinned():
    from datetime import datetime

    from jd_helix.lib.partitions import first_hour

    now = datetime(2026, 11, 28, 20, 30, tzinfo=UTC)
    assert first_hour({}, now) == "2026-11-26-00:00"
    assert first_hour({"JD_HELIX_HISTORY_DAYS": "30"}, now) == "2026-10-29-00:00"
    assert first_hour({"JD_HELIX_START": "2026-01-01-00:00", "JD_HELIX_HISTORY_DAYS": "30"}, now) == "2026-01-01-00:00"


def test_secrets_are_passed_as_env_vars_so_the_ui_shows_names_not_values(monkeypatch):
    from jd_helix.resources.from_environment import build_resources

    monkeypatch.setenv("JD_API_BASE_URL", "https://jd.example.com")
    monkeypatch.setenv("JD_API_KEY", "jd-secret-value")
    monkeypatch.setenv("VERKADA_API_BASE_URL", "https://api.verkada.com")
    monkeypatch.setenv("VERKADA_API_KEY", "vk-secret-value")
    resources = build_resources()
    for resource, variable in ((resources["jd_api"], "JD_API_KEY"), (resources["verkada"], "VERKADA_API_KEY")):
        assert isinstance(resource.api_key, dg.EnvVar)
        assert resource.api_key == variable  # the name, never the value


def test_with_no_api_settings_the_resources_point_nowhere(monkeypatch):
    from jd_helix.resources.from_environment import build_resources

    for variable in ("JD_API_BASE_URL", "JD_API_KEY", "VERKADA_API_BASE_URL", "VERKADA_API_KEY"):
        monkeypatch.delenv(variable, raising=False)
    resources = build_resources()
    assert resources["jd_api"].base_url is None and resources["verkada"].base_url is None
    with pytest.raises(Exception, match="VERKADA_API_BASE_URL and VERKADA_API_KEY are not set"):
        resources["verkada"].get_client()


def test_every_asset_links_to_the_file_that_defines_it():
    import jd_helix

    package = jd_helix.__path__[0]
    graph = defs.resolve_asset_graph()
    for key in HOURLY | UNPARTITIONED | {"jd_rejected_records"}:
        references = graph.get(dg.AssetKey(key)).metadata["dagster/code_references"].code_references
        paths = [r.file_path for r in references if isinstance(r, dg.LocalFileCodeReference)]
        assert paths and all(p.startswith(package) for p in paths), (key, references)
        # Not the decorator's file (lib/failures.py) that wraps most bodies.
        assert not any(p.endswith("failures.py") for p in paths), (key, references)


def test_an_asset_links_to_the_line_of_its_body():
    import inspect

    from jd_helix.defs.hourly_sales.transactions import jd_transactions

    (reference,) = (
        defs.resolve_asset_graph()
        .get(dg.AssetKey("jd_transactions"))
        .metadata["dagster/code_references"]
        .code_references
    )
    body = inspect.unwrap(jd_transactions.op.compute_fn.decorated_fn)
    assert (reference.file_path, reference.line_number) == (
        inspect.getsourcefile(body),
        inspect.getsourcelines(body)[1],
    )
    assert reference.file_path.endswith("jd_helix/defs/hourly_sales/transactions.py")


def test_helix_events_carries_a_freshness_policy_beside_its_freshness_check():
    from datetime import timedelta

    node = defs.resolve_asset_graph().get(dg.AssetKey("helix_events"))
    policy = node.freshness_policy
    assert isinstance(policy, dg.FreshnessPolicy)
    policy = cast(CronFreshnessPolicy, policy)  # FreshnessPolicy.cron(...) makes one
    assert (policy.deadline_cron, policy.lower_bound_delta, policy.timezone) == (
        "45 * * * *",
        timedelta(hours=1),
        "UTC",
    )
    checks = {key.name for key in defs.resolve_asset_graph().asset_check_keys if key.asset_key == node.key}
    assert "last_hour_posted_by_deadline" in checks


def test_loading_the_code_location_prints_no_warning():
    # A fresh interpreter as the code server and run workers load it, every warning shown.
    import subprocess
    import sys

    load = "from jd_helix.definitions import defs; defs.resolve_asset_graph(); defs.get_repository_def()"
    loaded = subprocess.run([sys.executable, "-W", "always", "-c", load], capture_output=True, text=True, timeout=120)
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stderr == ""


def test_pytest_silences_exactly_what_the_code_location_silences():
    import tomllib
    from pathlib import Path

    from jd_helix.lib.dagster_warnings import DELIBERATE

    pyproject = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    ignored = pyproject["tool"]["pytest"]["ini_options"]["filterwarnings"]
    assert ignored == [f"ignore:{message}:dagster.{category.__name__}" for category, message in DELIBERATE]
