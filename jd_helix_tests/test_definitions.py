"""The code location loads, and its public names (specs/pipeline-interface.md) stay put."""

import dagster as dg

from jd_helix.definitions import defs

HOURLY = {"jd_transactions", "transaction_camera_events", "helix_events", "store_sales"}
UNPARTITIONED = {"jd_stores", "jd_points_of_sale", "jd_cameras", "jd_items", "verkada_cameras", "helix_event_type"}


def test_definitions_load():
    dg.Definitions.validate_loadable(defs)


def test_asset_graph_is_frozen():
    graph = defs.resolve_asset_graph()
    keys = {key.to_user_string() for key in graph.get_all_asset_keys()}
    assert keys == HOURLY | UNPARTITIONED
    for key in HOURLY:
        node = graph.get(dg.AssetKey(key))
        assert node.partitions_def is not None and node.backfill_policy is not None, key
    for key in UNPARTITIONED:
        assert graph.get(dg.AssetKey(key)).partitions_def is None, key
    parents = {key: {p.to_user_string() for p in graph.get(dg.AssetKey(key)).parent_keys} for key in HOURLY}
    assert parents["transaction_camera_events"] == {"jd_transactions", *UNPARTITIONED} - {"helix_event_type"}
    assert parents["helix_events"] == {"transaction_camera_events", "helix_event_type"}
    assert parents["store_sales"] == {"helix_events"}


def test_every_asset_that_writes_duckdb_is_in_a_pool_of_its_own_kind():
    graph = defs.resolve_asset_graph()
    pools = {key.to_user_string(): graph.get(key).pools for key in graph.get_all_asset_keys()}
    assert pools["helix_events"] == {"verkada_helix"}
    assert pools["jd_transactions"] == {"duckdb_writer"}
    assert all(pool for pool in pools.values())


def test_jobs_schedules_and_sensor_have_their_public_names_and_ship_switched_on():
    for name in ("dimensions_job", "hourly_sales_job"):
        assert defs.resolve_job_def(name)
    schedule = defs.resolve_schedule_def("hourly_sales_schedule")
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    assert defs.resolve_schedule_def("dimensions_schedule").default_status == dg.DefaultScheduleStatus.RUNNING
    assert defs.resolve_sensor_def("helix_retry_sensor").default_status == dg.DefaultSensorStatus.RUNNING


def test_secrets_are_passed_as_env_vars_so_the_ui_shows_names_not_values(monkeypatch):
    from jd_helix.definitions import build_resources

    monkeypatch.setenv("JD_API_KEY", "jd-secret-value")
    monkeypatch.setenv("VERKADA_API_KEY", "vk-secret-value")
    resources = build_resources()
    for resource, variable in ((resources["jd_api"], "JD_API_KEY"), (resources["verkada"], "VERKADA_API_KEY")):
        assert isinstance(resource.api_key, dg.EnvVar)
        assert resource.api_key == variable  # the name, never the value


def test_unset_settings_fall_back_to_the_sandbox(monkeypatch):
    from jd_helix.definitions import build_resources

    for variable in ("JD_API_BASE_URL", "JD_API_KEY", "VERKADA_API_BASE_URL", "VERKADA_API_KEY"):
        monkeypatch.delenv(variable, raising=False)
    resources = build_resources()
    assert resources["jd_api"].base_url is None and resources["verkada"].base_url is None
