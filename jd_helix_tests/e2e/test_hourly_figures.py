"""After one run over 24 hours, every hour's page tells that hour's own truth.

Read the way the UI reads it: from the instance's event log (a persistent test instance),
each hour's latest materialization and each hour's check status, compared with DuckDB.
"""

from collections import Counter
from datetime import timedelta

import dagster as dg
import pytest
from dagster import AssetRecordsFilter
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus

from jd_helix.lib.partitions import partition_key
from jd_helix.sandbox import Sandbox, SandboxConfig
from jd_helix_tests.e2e.harness import (
    HOURLY_CHECKS,
    naive,
    query,
    recent_hours,
    refresh_dimensions,
    resources_for,
    run_hours,
)

HOURS = recent_hours(24)
# A fixed number of sale slots per hour (never the wall clock); oddities on, so hours differ
# in duplicates, rejects and unmapped sales.
CONFIG = SandboxConfig(seed=11, fixed_sales_per_hour=25, rate_limit_per_5s=None, rate_limit_per_minute=None)
HOURLY = ["jd_transactions", "transaction_camera_events", "helix_events", "store_sales"]


@pytest.fixture(scope="module")
def ranged_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("figures")
    database = str(tmp / "figures.duckdb")
    (tmp / "dagster_home").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp / "dagster_home")) as instance:
        with Sandbox.running(CONFIG, port=0) as sandbox:
            resources = resources_for(sandbox, database)
            assert refresh_dimensions(resources, instance=instance).success
            result = run_hours(resources, HOURS[0], HOURS[-1], instance=instance)
            assert result.success
            truth = {hour: sandbox.truth(hour, hour + timedelta(hours=1)) for hour in HOURS}
        yield instance, database, result, truth


def latest(instance: dg.DagsterInstance, asset: str, key: str) -> dict:
    records = instance.fetch_materializations(
        AssetRecordsFilter(asset_key=dg.AssetKey(asset), asset_partitions=[key]), limit=1
    ).records
    assert records, f"{asset} {key} has no materialization"
    materialization = records[0].asset_materialization
    assert materialization is not None, f"{asset} {key}'s record is a materialization"
    return {k: v.value for k, v in materialization.metadata.items()}


def per_hour(database: str, sql: str) -> dict:
    return {hour: values for hour, *values in query(database, sql)}


def test_each_hour_carries_its_own_figures(ranged_run):
    instance, database, result, truth = ranged_run
    rows = {table: per_hour(database, f"SELECT sale_hour, count(*) FROM {table} GROUP BY 1") for table in HOURLY}
    rejected = Counter(
        dict(query(database, "SELECT scope, count(*) FROM jd_rejected_records WHERE endpoint = '/v1/sales' GROUP BY 1"))
    )
    unmapped = per_hour(
        database,
        "SELECT sale_hour, count(*) FILTER (WHERE verkada_camera_id IS NULL) FROM transaction_camera_events GROUP BY 1",
    )
    statuses = Counter(
        {(h, s): n for h, s, n in query(database, "SELECT sale_hour, status, count(*) FROM helix_events GROUP BY 1, 2")}
    )
    totals = per_hour(database, "SELECT sale_hour, sum(sales_total) FROM store_sales GROUP BY 1")

    for hour in HOURS:
        key, stored = partition_key(hour), naive(hour)
        sales = latest(instance, "jd_transactions", key)
        assert sales["dagster/row_count"] == rows["jd_transactions"][stored][0]
        assert sales["window_start"] == hour.timestamp()
        assert sales["window_end"] == hour.timestamp() + 3600
        assert sales["rejected"] == rejected[key]
        assert sum(v for k, v in sales.items() if k.startswith("rejected/")) == rejected[key]
        # Every record the API sent for the hour is stored, set aside or a dropped duplicate.
        assert sales["records_received"] == sales["dagster/row_count"] + sales["rejected"] + sales["duplicates_dropped"]
        assert sales["duplicates_dropped"] == truth[hour].duplicates, "the repeats the sandbox served that hour"
        assert sales["rejected"] == len(truth[hour].rejected)
        assert sales["run/hours"] == 24  # run-wide figures say so in their name

        events = latest(instance, "transaction_camera_events", key)
        assert events["dagster/row_count"] == rows["transaction_camera_events"][stored][0]
        assert events["unmapped"] == unmapped[stored][0]

        ledger = latest(instance, "helix_events", key)
        assert ledger["dagster/row_count"] == rows["helix_events"][stored][0]
        for status in ("posted", "failed", "skipped", "unmapped", "pending"):
            assert ledger[f"status/{status}"] == statuses[(stored, status)], (key, status)
        assert ledger["posted_this_run"] == statuses[(stored, "posted")]

        report = latest(instance, "store_sales", key)
        assert report["dagster/row_count"] == rows["store_sales"][stored][0]
        assert report["sales_total"] == pytest.approx(float(totals[stored][0]))

    # The hours really differ, and each was materialized exactly once by the run.
    assert len({rows["jd_transactions"][naive(h)][0] for h in HOURS}) > 1
    assert sum(rejected.values()) > 0
    received = [latest(instance, "jd_transactions", partition_key(h)) for h in HOURS]
    assert sum(r["records_received"] for r in received) == received[0]["run/records_received"]
    assert sum(r["duplicates_dropped"] for r in received) > 0, "the sandbox repeats some sales"
    for asset in HOURLY:
        mine = [m for m in result.asset_materializations_for_node(asset) if m.asset_key == dg.AssetKey(asset)]
        assert sorted(m.partition for m in mine) == [partition_key(h) for h in HOURS]


def test_each_hour_has_its_own_check_results(ranged_run):
    instance, _, result, _ = ranged_run
    check_keys = [key for checks in HOURLY_CHECKS for key in checks.check_keys]
    assert len(check_keys) == 4
    evaluations = result.get_asset_check_evaluations()
    assert all(e.partition is not None for e in evaluations)
    assert len(evaluations) == 4 * 24

    infos = instance.event_log_storage.get_asset_check_partition_info(check_keys)
    by_key = {(info.check_key.name, info.partition_key): info for info in infos}
    for check_key in check_keys:
        for hour in HOURS:
            info = by_key[(check_key.name, partition_key(hour))]
            assert info.latest_execution_status != AssetCheckExecutionRecordStatus.PLANNED
            assert info.is_current, (check_key.name, partition_key(hour))
    for name in ("valid_transactions", "ledger_reconciles", "no_exhausted_retries"):
        assert {by_key[(name, partition_key(h))].latest_execution_status for h in HOURS} == {
            AssetCheckExecutionRecordStatus.SUCCEEDED
        }
