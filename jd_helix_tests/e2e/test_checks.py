"""Asset checks pass on clean data and fail, usefully, on data made to break them."""

from typing import cast

import dagster as dg
import duckdb
import pytest

from jd_helix.lib.partitions import partition_key
from jd_helix.resources.helix_settings import HelixSettings
from jd_helix.sandbox import Sandbox, SandboxConfig
from jd_helix_tests.e2e.harness import (
    HOURLY_ASSETS,
    naive,
    query,
    recent_hours,
    refresh_dimensions,
    resources_for,
    run_hour,
)

HOUR = recent_hours(1)[0]
CLEAN = SandboxConfig(seed=3, clean=True, fixed_sales_per_hour=80, rate_limit_per_5s=None, rate_limit_per_minute=None)


def evaluations(result: dg.ExecuteInProcessResult) -> dict[str, dg.AssetCheckEvaluation]:
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


@pytest.fixture
def clean_hour(tmp_path):
    database = str(tmp_path / "checks.duckdb")
    with Sandbox.running(CLEAN, port=0) as sandbox:
        resources = resources_for(sandbox, database)
        assert refresh_dimensions(resources).success
        result = run_hour(resources, HOUR)
        yield sandbox, resources, database, result


def test_every_check_passes_on_clean_data(clean_hour):
    *_, result = clean_hour
    checks = evaluations(result)
    assert set(checks) == {
        "valid_transactions",
        "unmapped_share_below_threshold",
        "ledger_reconciles",
        "no_exhausted_retries",
    }
    assert all(check.passed for check in checks.values()), {n: c.description for n, c in checks.items()}
    assert cast("int", checks["ledger_reconciles"].metadata["sales"].value) > 0


def test_a_failing_transactions_check_blocks_posting_for_that_hour(clean_hour):
    sandbox, resources, database, _ = clean_hour
    # Break the stored hour: a repeated id and a zero amount.
    with duckdb.connect(database) as conn:
        conn.execute(
            "INSERT INTO jd_transactions SELECT * REPLACE ('dup-' || transaction_id AS transaction_id, "
            "0 AS transaction_amount) FROM jd_transactions WHERE sale_hour = ? LIMIT 1",
            [naive(HOUR)],
        )
        conn.execute(
            "INSERT INTO jd_transactions SELECT * FROM jd_transactions WHERE sale_hour = ? LIMIT 1", [naive(HOUR)]
        )
        conn.execute("DELETE FROM helix_events")  # so that posting would be visible if it happened
    writes = len(sandbox.helix_writes())

    result = dg.materialize(
        HOURLY_ASSETS,
        resources=resources,
        partition_key=partition_key(HOUR),
        selection=dg.AssetSelection.checks_for_assets("jd_transactions")
        | dg.AssetSelection.assets("transaction_camera_events", "helix_events"),
        raise_on_error=False,
    )
    checks = evaluations(result)
    valid = checks["valid_transactions"]
    assert not valid.passed
    assert valid.metadata["duplicate_rows"].value == 1
    assert valid.metadata["zero_amounts"].value == 1
    assert valid.metadata["misplaced"].value == 0
    assert valid.metadata["failed_rules"].value == "unique_transaction_ids, no_zero_amounts"
    assert valid.description == (
        "unique_transaction_ids: 1 repeated transaction ids; no_zero_amounts: 1 transactions with a zero amount"
    )
    assert "dup-" in cast("str", valid.metadata["examples"].value)
    assert not result.asset_materializations_for_node("helix_events")
    assert len(sandbox.helix_writes()) == writes
    assert query(database, "SELECT count(*) FROM helix_events") == [(0,)]


def test_unmapped_share_warns_when_too_many_sales_have_no_camera(tmp_path):
    config = SandboxConfig(
        seed=4,
        stores=2,
        pos_per_store=2,
        unmapped_cameras=2,
        fixed_sales_per_hour=60,
        rate_limit_per_5s=None,
        rate_limit_per_minute=None,
    )
    with Sandbox.running(config, port=0) as sandbox:
        resources = resources_for(sandbox, str(tmp_path / "unmapped.duckdb"))
        assert refresh_dimensions(resources).success
        check = evaluations(run_hour(resources, HOUR))["unmapped_share_below_threshold"]
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    assert cast("float", check.metadata["unmapped_share"].value) > 0.1
    assert "no Verkada camera" in cast("str", check.metadata["reasons"].value)


def test_helix_checks_fail_when_events_run_out_of_attempts_or_rows_go_missing(clean_hour):
    _sandbox, resources, database, _ = clean_hour
    with duckdb.connect(database) as conn:
        conn.execute(
            "UPDATE helix_events SET status = 'failed', attempts = 6 WHERE transaction_id IN "
            "(SELECT transaction_id FROM helix_events LIMIT 2)"
        )
        conn.execute(
            "DELETE FROM helix_events WHERE transaction_id IN "
            "(SELECT transaction_id FROM helix_events WHERE status = 'posted' LIMIT 1)"
        )
    result = dg.materialize(
        HOURLY_ASSETS,
        resources={**resources, "helix_settings": HelixSettings(max_attempts=6)},
        partition_key=partition_key(HOUR),
        # store_sales rides along: Dagster needs a partitioned asset in the run to take a partition key.
        selection=dg.AssetSelection.checks_for_assets("helix_events") | dg.AssetSelection.assets("store_sales"),
        raise_on_error=False,
    )
    checks = evaluations(result)
    assert not checks["no_exhausted_retries"].passed
    assert checks["no_exhausted_retries"].metadata["exhausted"].value == 2
    assert not checks["ledger_reconciles"].passed
    description = checks["ledger_reconciles"].description
    assert description is not None and "1 of" in description
