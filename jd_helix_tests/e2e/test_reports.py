"""The old app's reports, from the CLI, agree with the tables."""

import json
import subprocess
import sys
from datetime import timedelta

import pytest
from click.testing import CliRunner

from jd_helix.cli.main import main
from jd_helix.sandbox import Sandbox, SandboxConfig
from jd_helix_tests import clock
from jd_helix_tests.e2e.harness import naive, query, recent_hours, refresh_dimensions, resources_for, run_hour

HOURS = recent_hours(2)
START, END = naive(HOURS[0]), naive(HOURS[-1] + timedelta(hours=1))


@pytest.fixture(scope="module")
def database(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("reports") / "jd_helix.duckdb")
    config = SandboxConfig(seed=8, fixed_sales_per_hour=70, rate_limit_per_5s=None, rate_limit_per_minute=None)
    with Sandbox.running(config, port=0) as sandbox:
        resources = resources_for(sandbox, path)
        assert refresh_dimensions(resources).success
        for hour in HOURS:
            assert run_hour(resources, hour).success
    return path


def report(database, *args):
    window = ["--start", START.isoformat(), "--end", END.isoformat(), "--database", database, "--format", "json"]
    result = CliRunner().invoke(main, ["report", *args, *window])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_transactions_report_lists_every_sale_of_the_period(database):
    rows = report(database, "transactions")
    expected = query(
        database,
        "SELECT transaction_id FROM jd_transactions WHERE transaction_at >= ? AND transaction_at < ?",
        [START, END],
    )
    assert sorted(r["transaction_id"] for r in rows) == sorted(tid for (tid,) in expected)
    assert {r["helix_status"] for r in rows} <= {"posted", "unmapped"}


def test_store_sales_report_matches_the_store_sales_asset(database):
    store_id, transactions, total = query(
        database,
        "SELECT store_id, sum(transactions), sum(sales_total) FROM store_sales WHERE store_id IS NOT NULL "
        "GROUP BY 1 ORDER BY 3 DESC LIMIT 1",
    )[0]
    [row] = report(database, "store-sales", store_id)
    assert row["store_id"] == store_id
    assert row["transactions"] == transactions
    assert row["sales_total"] == pytest.approx(float(total))


def test_stores_with_sales_are_exactly_the_stores_that_sold(database):
    rows = report(database, "stores-with-sales")
    sold = query(database, "SELECT DISTINCT store_id FROM transaction_camera_events WHERE store_id IS NOT NULL")
    assert sorted(r["store_id"] for r in rows) == sorted(s for (s,) in sold)
    assert all(r["transactions"] > 0 for r in rows)


def test_rejected_records_report_lists_what_was_set_aside_for_the_period(database):
    # From the first hour until after the reference refresh (which set records aside "now").
    end = naive(clock.now()) + timedelta(minutes=1)
    window = ["--start", START.isoformat(), "--end", end.isoformat(timespec="seconds"), "--database", database]
    result = CliRunner().invoke(main, ["report", "rejected-records", *window, "--format", "json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    stored = query(database, "SELECT endpoint, scope, field, reason FROM jd_rejected_records")
    assert sorted((r["endpoint"], r["scope"], r["field"], r["reason"]) for r in rows) == sorted(stored)
    assert any(r["scope"] == "refresh" for r in rows) and all(r["reason"] and r["raw"] for r in rows)


def test_a_missing_warehouse_gets_a_clear_message(tmp_path):
    result = CliRunner().invoke(main, ["report", "stores-with-sales", "--database", str(tmp_path / "none.duckdb")])
    assert result.exit_code != 0
    assert "Cannot read" in result.output and "does not exist" in result.output


def hold_the_file_for(database: str, seconds: float) -> subprocess.Popen:
    """Another process writes the warehouse (as a run does) for `seconds`."""
    writer = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; conn = duckdb.connect(sys.argv[1]); "
            "print('held', flush=True); time.sleep(float(sys.argv[2])); conn.close()",
            database,
            str(seconds),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert writer.stdout is not None and writer.stdout.readline().strip() == "held"
    return writer


def test_a_report_waits_for_the_run_writing_the_warehouse(database):
    writer = hold_the_file_for(database, 3)
    try:
        window = ["--start", START.isoformat(), "--end", END.isoformat(), "--database", database, "--format", "json"]
        result = CliRunner().invoke(main, ["report", "stores-with-sales", *window, "--wait", "60"])
        assert writer.poll() is not None, "the report answered while the writer still held the file"
    finally:
        writer.wait()
    assert result.exit_code == 0, result.output
    assert "A run is writing the warehouse; waiting" in result.stderr
    sold = query(database, "SELECT DISTINCT store_id FROM transaction_camera_events WHERE store_id IS NOT NULL")
    assert sorted(r["store_id"] for r in json.loads(result.stdout)) == sorted(s for (s,) in sold)


def test_a_report_that_cannot_wait_says_a_run_is_writing(database):
    writer = hold_the_file_for(database, 3)
    try:
        result = CliRunner().invoke(main, ["report", "stores-with-sales", "--database", database, "--wait", "0"])
    finally:
        writer.wait()
    assert result.exit_code != 0
    assert "a run has been writing it for the 0 s we waited" in result.output
