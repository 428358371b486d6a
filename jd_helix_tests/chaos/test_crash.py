"""Crash at every stage: a run SIGKILLed during extraction, inside the DuckDB write of the
join, and in the middle of posting, then run again, ends exactly where an uninterrupted
run of the same hour (a second sandbox, same seed) ends: same tables (load times aside),
each postable sale once in Helix, no triple ever written for two sales, nothing pending.

The run under test is a separate process (`crash_run.py`) pointed at a sandbox in this
process; the moment to kill it is read from the sandbox (requests served, Helix write
log) or, for the DuckDB write, from a marker the subprocess writes once the join's
DELETE and INSERT have run and COMMIT has not (see crash_run.HoldingWarehouse).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC
from pathlib import Path

import dagster as dg
import pytest

from jd_helix.lib.partitions import partition_key
from jd_helix.sandbox import Sandbox, SandboxConfig
from jd_helix_tests import clock
from jd_helix_tests.chaos.harness import DIMENSION_ASSETS, HOURLY_ASSETS, PROJECT_ROOT
from jd_helix_tests.e2e.harness import naive, query, recent_hours, resources_for

HOUR = recent_hours(1)[0]
CONFIG = {"seed": 31, "stores": 6, "pos_per_store": 2, "items": 40, "fixed_sales_per_hour": 60, "batch_delay_s": 0.05}
TABLES = {
    "jd_transactions": "* EXCLUDE (loaded_at)",
    "transaction_camera_events": "* EXCLUDE (built_at)",
    "helix_events": "transaction_id, sale_hour, verkada_camera_id, event_type_uid, time_ms, status, reason, attempts",
    "store_sales": "* EXCLUDE (built_at)",
    "jd_rejected_records": "endpoint, scope, field, reason, raw",
}


def snapshot(database: str) -> dict[str, list]:
    return {table: sorted(query(database, f"SELECT {cols} FROM {table}"), key=repr) for table, cols in TABLES.items()}


def helix_by_sale(sandbox) -> dict[str, tuple]:
    events = sandbox.helix_events()
    counts = Counter(e["attributes"]["transaction_id"] for e in events)
    assert all(n == 1 for n in counts.values()), "a sale has two Helix events"
    return {
        e["attributes"]["transaction_id"]: (
            e["camera_id"],
            e["event_type_uid"],
            e["time_ms"],
            tuple(sorted(e["attributes"].items())),
        )
        for e in events
    }


def no_triple_carried_two_sales(sandbox) -> None:
    owners: dict[tuple, set] = {}
    for write in sandbox.helix_writes():
        owners.setdefault((write["camera_id"], write["event_type_uid"], write["time_ms"]), set()).add(
            write["attributes"]["transaction_id"]
        )
    assert all(len(sales) == 1 for sales in owners.values())


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The uninterrupted run: dimensions and the hour, on a sandbox of the same seed."""
    database = str(tmp_path_factory.mktemp("reference") / "jd_helix.duckdb")
    with Sandbox.running(SandboxConfig(**CONFIG), port=0) as sandbox:
        resources = resources_for(sandbox, database)
        assert dg.materialize(DIMENSION_ASSETS, resources=resources).success
        assert dg.materialize(HOURLY_ASSETS, resources=resources, partition_key=partition_key(HOUR)).success
        yield snapshot(database), helix_by_sale(sandbox)


def start_run(sandbox, database: str, tmp_path: Path, **env: str) -> subprocess.Popen:
    environment = {
        **os.environ,
        "CRASH_JD_URL": sandbox.jd_base_url,
        "CRASH_VERKADA_URL": sandbox.verkada_base_url,
        "JD_API_KEY": sandbox.jd_api_key,
        "VERKADA_API_KEY": sandbox.verkada_api_key,
        "PYTHONPATH": str(PROJECT_ROOT),
        **env,
    }
    return subprocess.Popen(
        [sys.executable, "-m", "jd_helix_tests.chaos.crash_run", database, partition_key(HOUR)],
        cwd=PROJECT_ROOT,
        env=environment,
        stdout=open(tmp_path / "run.out", "wb"),
        stderr=subprocess.STDOUT,
    )


def kill_when(process: subprocess.Popen, ready: Callable[[], bool], tmp_path: Path, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while not ready():
        if process.poll() is not None:
            output = (tmp_path / "run.out").read_text()[-3000:]
            pytest.fail(f"the run ended (rc {process.returncode}) before the moment to kill it:\n{output}")
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail("the moment to kill the run never came")
        time.sleep(0.01)
    os.kill(process.pid, signal.SIGKILL)
    assert process.wait(timeout=10) == -signal.SIGKILL


def staged_folders(database: str) -> list[Path]:
    return list(Path(database).parent.glob(".jd_transactions-staging-*"))


def served(sandbox, api: str, endpoint: str) -> int:
    return sum(n for (a, e, status), n in sandbox.stats().items() if a == api and e == endpoint and status == 200)


def crash_then_rerun(tmp_path, reference, *, stage: str):
    ref_tables, ref_helix = reference
    database = str(tmp_path / "jd_helix.duckdb")
    faults = {"api": "jd", "latency_ms": 150} if stage == "extraction" else None
    with Sandbox.running(SandboxConfig(**CONFIG, faults=faults), port=0) as sandbox:
        resources = resources_for(sandbox, database)
        assert dg.materialize(DIMENSION_ASSETS, resources=resources).success
        sandbox.reset_stats()
        postable = len(ref_helix)

        if stage == "extraction":
            process = start_run(sandbox, database, tmp_path, CRASH_JD_PAGE_SIZE="5")
            kill_when(process, lambda: served(sandbox, "jd", "sales") >= 1, tmp_path)
            assert query(database, "SELECT count(*) FROM jd_transactions")[0][0] == 0
            assert staged_folders(database), "the killed run was staging its pages"
        elif stage == "join_write":
            marker = tmp_path / "holding"
            process = start_run(
                sandbox, database, tmp_path, CRASH_HOLD_COMMIT_OF="transaction_camera_events", CRASH_MARKER=str(marker)
            )
            kill_when(process, marker.exists, tmp_path)
            assert query(database, "SELECT count(*) FROM transaction_camera_events")[0][0] == 0, (
                "the killed transaction left rows"
            )
            assert query(database, "SELECT count(*) FROM jd_transactions")[0][0] > 0
        else:
            process = start_run(sandbox, database, tmp_path, CRASH_BATCH_SIZE="5")
            kill_when(process, lambda: 0 < len(sandbox.helix_writes()) < postable, tmp_path)
            statuses = dict(query(database, "SELECT status, count(*) FROM helix_events GROUP BY 1"))
            assert statuses.get("pending", 0) > 0, f"the kill should leave pinned, unposted events: {statuses}"
        sandbox.faults.reset()

        assert dg.materialize(HOURLY_ASSETS, resources=resources, partition_key=partition_key(HOUR)).success
        assert snapshot(database) == ref_tables
        assert not staged_folders(database), "the staging folders of the killed run are removed"
        assert helix_by_sale(sandbox) == ref_helix
        no_triple_carried_two_sales(sandbox)
        assert query(database, "SELECT count(*) FROM helix_events WHERE status IN ('pending', 'failed')")[0][0] == 0


@pytest.mark.parametrize("stage", ["extraction", "join_write", "posting"])
def test_a_run_killed_and_run_again_ends_as_an_uninterrupted_run(tmp_path, reference, stage):
    crash_then_rerun(tmp_path, reference, stage=stage)


@pytest.mark.time_sensitive  # the clock guard runs it at far instants too
def test_events_left_pending_by_a_run_killed_for_good_are_picked_up_by_the_retry_sensor(tmp_path):
    from datetime import timedelta

    from jd_helix.defs.helix.retry import helix_retry_sensor
    from jd_helix.resources.helix_settings import HelixSettings
    from jd_helix.resources.warehouse import WarehouseResource

    warehouse = WarehouseResource(database=str(tmp_path / "sensor.duckdb"))
    now = naive(clock.now())
    hour = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=6)
    with warehouse.write() as conn:  # pinned 5 hours ago by a run that was then SIGKILLed
        conn.execute(
            "INSERT INTO helix_events (transaction_id, sale_hour, verkada_camera_id, event_type_uid, time_ms, "
            "status, attempts, pinned_at) VALUES ('t1', ?, 'cam', 'uid', 1, 'pending', 0, ?)",
            [hour, now - timedelta(hours=5)],
        )  # the pinning recorded its Helix and event type in the same transaction
        conn.execute(
            "INSERT INTO helix_destination (api_base_url, event_type_uid, recorded_at) "
            "VALUES ('https://api.verkada.com', 'uid', ?)",
            [now],
        )
    context = dg.build_sensor_context(
        resources={"warehouse": warehouse, "helix_settings": HelixSettings(retry_base_minutes=0.0001)}
    )
    outcome = helix_retry_sensor(context)
    assert isinstance(outcome, dg.SensorResult), outcome
    assert outcome.run_requests is not None
    assert [r.partition_key for r in outcome.run_requests] == [partition_key(hour.replace(tzinfo=UTC))]
