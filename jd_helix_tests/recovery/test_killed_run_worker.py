"""A run worker SIGKILLed under `make run`'s setup (daemon, shipped dagster.yaml, persistent
DAGSTER_HOME) at each stage - extraction, the join's DuckDB write, posting to Helix - never
wedges the pipeline: within 2 minutes the dead run is FAILURE, its pool slots are free and
its hour resumed by a run retry (the same pinned triples, each sale once in Helix), and a
run launched right after a kill is not blocked.

One deployment serves all stages (its start costs more than a stage); the kills follow one
another and each stage's test reads what the scenario recorded.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import duckdb
import pytest
from dagster import DagsterRunStatus

from jd_helix.lib.partitions import partition_key
from jd_helix.sandbox import Sandbox, SandboxConfig
from jd_helix_tests.e2e.harness import naive, refresh_dimensions, resources_for
from jd_helix_tests.recovery.deployment import DagsterDev, api_environment, new_dagster_home, real_hour, wait_for

# Hours well before the scheduled run's look-back, so a schedule tick during the test never touches them.
_BASE = real_hour(12)
# The sandbox decides the volume: 60 sales in every hour, whatever the clock says.
CONFIG = SandboxConfig(
    seed=41,
    stores=3,
    pos_per_store=2,
    items=20,
    fixed_sales_per_hour=60,
    rate_limit_per_5s=None,
    rate_limit_per_minute=None,
    batch_delay_s=0.05,
    now=_BASE + timedelta(hours=12),
)
RECOVERY_BUDGET_S = 120  # kill -> FAILURE, slots free, retry started
# The retry then queues for the single DuckDB writer behind the other runs of the scenario.
COMPLETION_TIMEOUT_S = 300
EXTRACT_HOUR, POSTING_HOUR, AFTER_KILL_HOUR = _BASE, _BASE + timedelta(hours=1), _BASE + timedelta(hours=2)


@dataclass
class Kill:
    stage: str
    run_id: str
    hour: datetime
    killed_at: float = 0.0
    # seconds after the kill: run FAILURE, its slots free, its retry STARTED (the hour
    # resumed), the retry finished
    seen: dict[str, float] = field(default_factory=dict)
    status: str | None = None
    retry_status: str | None = None
    pinned_at_kill: dict[str, tuple] = field(default_factory=dict)


def read(database: str, sql: str, params=None) -> list[tuple] | None:
    """A read-only look at the warehouse, or None while a run holds it for writing."""
    try:
        with duckdb.connect(database, read_only=True) as conn:
            return conn.execute(sql, params or []).fetchall()
    except duckdb.IOException:
        return None


def pinned(database: str, hour: datetime) -> dict[str, tuple] | None:
    """The hour's pinned triples, or None while the warehouse is being written."""
    rows = read(
        database,
        "SELECT transaction_id, verkada_camera_id, event_type_uid, time_ms FROM helix_events "
        "WHERE sale_hour = ? AND time_ms IS NOT NULL",
        [naive(hour)],
    )
    return None if rows is None else {tid: (camera, uid, ms) for tid, camera, uid, ms in rows}


def kill_worker(dev: DagsterDev, watch: Watch, kill: Kill) -> None:
    os.kill(dev.worker_pid(kill.run_id), signal.SIGKILL)
    kill.killed_at = time.monotonic()
    watch.kills.append(kill)


class Watch(threading.Thread):
    """Notes, for each killed run, when it became FAILURE, lost its slots and its retry ended."""

    def __init__(self, dev: DagsterDev):
        super().__init__(daemon=True)
        self.dev, self.kills, self.stopped = dev, [], threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(0.25):
            for kill in list(self.kills):
                self._look(kill, time.monotonic())

    def _look(self, kill: Kill, now: float) -> None:
        ended = self.dev.ended(kill.run_id)
        if "failure" not in kill.seen and ended:
            kill.seen["failure"] = now - kill.killed_at
            kill.status = ended.value
        if "slots_free" not in kill.seen and ended and not self.dev.holds_slots(kill.run_id):
            kill.seen["slots_free"] = now - kill.killed_at
        retry = self.dev.retry_of(kill.run_id)
        if retry is None:
            return
        if "resumed" not in kill.seen and (retry.status == DagsterRunStatus.STARTED or retry.is_finished):
            kill.seen["resumed"] = now - kill.killed_at
        if "completed" not in kill.seen and retry.is_finished:
            kill.retry_status = retry.status.value
            kill.seen["completed"] = now - kill.killed_at

    def until_recovered(self, kills: list[Kill], timeout_s: float) -> None:
        wait_for("the killed runs to recover", lambda: all(len(k.seen) == 4 for k in kills), timeout_s, every_s=0.5)


@pytest.fixture(scope="module")
def scenario(tmp_path_factory):
    root = tmp_path_factory.mktemp("killed_worker")
    began = time.monotonic()
    phases: dict[str, float] = {}
    database = str(root / "jd_helix.duckdb")
    with Sandbox.running(CONFIG, port=0) as sandbox:
        env = {**api_environment(sandbox), "JD_HELIX_DUCKDB_PATH": database}
        # The reference data, loaded in this process (no run of its own to wait for).
        assert refresh_dimensions(resources_for(sandbox, database)).success
        with DagsterDev(new_dagster_home(root), env, root / "dagster_dev.log") as dev:
            phases["dagster dev up"] = time.monotonic() - began
            watch = Watch(dev)
            watch.start()
            # Extraction: JD answers slowly, so the run is killed inside jd_transactions,
            # holding the duckdb_writer slot.
            sandbox.faults.update(api="jd", latency_ms=2500)
            extract = Kill("extraction", dev.launch("hourly_sales_job", partition_key(EXTRACT_HOUR)), EXTRACT_HOUR)
            wait_for("extraction to start", lambda: dev.step_started(extract.run_id, "jd_transactions"), 120)
            # Queued behind the extraction for the duckdb_writer slot, it is killed later, in posting.
            posting = Kill("posting", dev.launch("hourly_sales_job", partition_key(POSTING_HOUR)), POSTING_HOUR)
            time.sleep(0.5)
            kill_worker(dev, watch, extract)
            sandbox.faults.reset()
            after_kill = dev.launch("hourly_sales_job", partition_key(AFTER_KILL_HOUR))
            after_kill_launched = time.monotonic()

            phases["extraction killed"] = time.monotonic() - began
            # Posting: Helix answers slowly; the run is killed once the hour's triples are
            # pinned and its batch is on the way, holding the verkada_helix slot.
            sandbox.faults.update(api="verkada", latency_ms=2500)
            wait_for(
                "posting to start",
                lambda: dev.step_started(posting.run_id, "helix_events") and pinned(database, POSTING_HOUR),
                180,
                every_s=0.3,
            )
            time.sleep(0.5)
            kill_worker(dev, watch, posting)
            sandbox.faults.reset()
            posting.pinned_at_kill = wait_for("a read of the ledger", lambda: pinned(database, POSTING_HOUR), 30)
            wait_for(
                "the run launched after the kill", lambda: dev.ended(after_kill), RECOVERY_BUDGET_S + 30, every_s=0.5
            )
            after_kill_took = time.monotonic() - after_kill_launched
            watch.until_recovered([extract, posting], COMPLETION_TIMEOUT_S)

            phases["extraction, posting recovered"] = time.monotonic() - began
            # The join: the warehouse is held by this test, so the remap run's
            # transaction_camera_events step waits for the file with the duckdb_writer slot.
            # Other runs (the catch-up automation's, run retries) would wait on the file this
            # test holds while keeping the duckdb_writer slot the join needs: start when idle.
            wait_for("no run in progress", dev.idle, COMPLETION_TIMEOUT_S, every_s=1)
            holder = duckdb.connect(database)
            join = Kill("join", dev.launch("helix_remap_job", partition_key(EXTRACT_HOUR)), EXTRACT_HOUR)
            wait_for("the join to start", lambda: dev.step_started(join.run_id, "transaction_camera_events"), 120)
            time.sleep(0.3)
            kill_worker(dev, watch, join)
            holder.close()
            watch.until_recovered([join], COMPLETION_TIMEOUT_S)
            watch.stopped.set()
            phases["join recovered"] = time.monotonic() - began
            print(f"scenario phases (s from start): {phases}")

            yield {
                "kills": {k.stage: k for k in (extract, posting, join)},
                "after_kill": (dev.run(after_kill).status.value, after_kill_took),
                "sandbox": sandbox,
                "database": database,
                "log": root / "dagster_dev.log",
            }


def ledger(database: str, hour: datetime) -> list[tuple] | None:
    return read(
        database,
        "SELECT transaction_id, status, verkada_camera_id, event_type_uid, time_ms FROM helix_events WHERE sale_hour = ?",
        [naive(hour)],
    )


def assert_recovered(scenario, stage: str) -> Kill:
    kill = scenario["kills"][stage]
    print(f"{stage}: seconds after SIGKILL {kill.seen}")
    assert set(kill.seen) == {"failure", "slots_free", "resumed", "completed"}, (
        kill.seen,
        scenario["log"].read_text()[-3000:],
    )
    assert max(kill.seen["failure"], kill.seen["slots_free"], kill.seen["resumed"]) <= RECOVERY_BUDGET_S, kill.seen
    assert kill.status == "FAILURE" and kill.retry_status == "SUCCESS"
    rows = wait_for("a read of the ledger", lambda: ledger(scenario["database"], kill.hour), 30)
    truth = scenario["sandbox"].truth(kill.hour, kill.hour + timedelta(hours=1))
    assert {tid for tid, *_ in rows} == set(truth.valid), "one ledger row per valid sale of the hour"
    assert Counter(status for _, status, *_ in rows).keys() <= {"posted", "unmapped"}, Counter(r[1] for r in rows)
    events = scenario["sandbox"].helix_events()
    per_sale = Counter(e["attributes"]["transaction_id"] for e in events)
    posted = {tid: (camera, uid, ms) for tid, status, camera, uid, ms in rows if status == "posted"}
    assert posted and all(per_sale[tid] == 1 for tid in posted), "each posted sale once in Helix"
    in_helix = {e["attributes"]["transaction_id"]: (e["camera_id"], e["event_type_uid"], e["time_ms"]) for e in events}
    assert {tid: in_helix.get(tid) for tid in posted} == posted, "Helix holds the ledger's triples"
    return kill


def test_a_worker_killed_in_extraction_is_failed_freed_and_its_hour_resumed(scenario):
    assert_recovered(scenario, "extraction")


def test_a_worker_killed_in_the_join_write_is_failed_freed_and_its_hour_resumed(scenario):
    assert_recovered(scenario, "join")


def test_a_worker_killed_while_posting_is_resumed_with_the_same_pinned_triples(scenario):
    kill = assert_recovered(scenario, "posting")
    assert kill.pinned_at_kill, "the kill came after the triples were pinned"
    final = wait_for("a read of the ledger", lambda: pinned(scenario["database"], kill.hour), 30)
    assert final == kill.pinned_at_kill


def test_a_run_launched_right_after_a_kill_is_not_blocked(scenario):
    status, took = scenario["after_kill"]
    assert status == "SUCCESS"
    assert took <= RECOVERY_BUDGET_S, took
