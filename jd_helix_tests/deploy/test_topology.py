"""Dagster's production topology on a real PostgreSQL instance (deploy/dagster.yaml): the code
server, the webserver and the daemon as separate processes, from the non-editable wheel install.

- the daemon ticks `hourly_sales_schedule` (its start set just before the last :15, so the
  tick is due at once) and the scheduled run loads and posts its hour;
- a 24-hour backfill launched through GraphQL as the UI launches it completes, on PostgreSQL;
- a run whose worker is SIGKILLed is reported to the webhook, marked failed, its pool slot is
  given back and run retries finish its hour: every sale once in Helix, nothing pending;
- each step's stdout/stderr, written by the run worker, is read back through the webserver's
  GraphQL (what the UI's stdout/stderr buttons ask), from the compute-log folder of deploy/dagster.yaml;
- a run in flight when the code-location "container" is replaced (the code server and its run
  workers killed at once, a new one started under another host name) is failed by the
  `fail_dead_runs` sensor, its slot given back, and run retries finish its hour - no person.
The sandbox serves a fixed number of sales per hour: nothing depends on the wall clock's volume.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from unittest import mock

import dagster as dg
import duckdb
import pytest
from dagster._core.scheduler.instigation import (
    InstigatorState,
    InstigatorStatus,
    InstigatorType,
    ScheduleInstigatorData,
)
from dagster._core.workspace.context import WorkspaceProcessContext
from dagster._core.workspace.load_target import GrpcServerTarget

from benchmarks.dagster_graphql_client import TERMINAL_RUN_STATUSES, step_stats
from jd_helix.defs.hourly_sales.schedule import HOURLY_RUN_MINUTE
from jd_helix.lib.partitions import partition_key
from jd_helix.lib.pools.worker import WORKER_TAG
from jd_helix.sandbox import Sandbox, SandboxConfig
from jd_helix_tests.chaos.harness import DIMENSION_ASSETS, check_against_truth
from jd_helix_tests.deploy.topology import (
    LOCATION,
    PROJECT_ROOT,
    RUN_MESSAGES,
    Topology,
    can_rename_host,
    real_now,
    run_worker_pid,
)
from jd_helix_tests.e2e.harness import resources_for
from jd_helix_tests.webhook_receiver import webhook_receiver

SALES_PER_HOUR = 20
SANDBOX = {
    "seed": 23,
    "stores": 3,
    "pos_per_store": 2,
    "items": 20,
    "fixed_sales_per_hour": SALES_PER_HOUR,
    "clean": True,
    "rate_limit_per_5s": None,
    "rate_limit_per_minute": None,
    "batch_delay_s": 0.02,
}
HOURLY_ASSETS = ["jd_transactions", "transaction_camera_events", "helix_events", "store_sales"]
THIS_HOUR = real_now().replace(minute=0, second=0, microsecond=0)
# Hours of each test, apart from each other and from what the schedule runs (the last hour or two).
BACKFILL_HOURS = [THIS_HOUR - timedelta(hours=h) for h in range(40, 16, -1)]
KILLED_HOUR = THIS_HOUR - timedelta(hours=8)
REDEPLOYED_HOUR = THIS_HOUR - timedelta(hours=10)


def last_tick_time(now: datetime) -> datetime:
    tick = now.replace(minute=HOURLY_RUN_MINUTE, second=0, microsecond=0)
    return tick if tick <= now else tick - timedelta(hours=1)


def run_tags(topology: Topology, run_id: str) -> dict[str, str]:
    """A run's tags as the instance stores them, hidden ones included."""
    with (
        mock.patch.dict(os.environ, topology.instance_env),
        dg.DagsterInstance.from_config(str(topology.home)) as instance,
    ):
        run = instance.get_run_by_id(run_id)
        assert run is not None, run_id
        return dict(run.tags)


def start_schedule_just_before(topology: Topology, schedule_name: str, tick: datetime) -> None:
    """Record the schedule as started a minute before `tick`: the daemon's first pass then owes
    exactly that tick (what a daemon that was down at the tick does when it comes back)."""
    with (
        mock.patch.dict(os.environ, topology.instance_env),
        dg.DagsterInstance.from_config(str(topology.home)) as instance,
    ):
        target = GrpcServerTarget(host="127.0.0.1", port=topology.code_port, socket=None, location_name=LOCATION)
        with WorkspaceProcessContext(instance, target) as workspace:
            location = workspace.create_request_context().get_code_location(LOCATION)
            [repository] = location.get_repositories().values()
            schedule = repository.get_schedule(schedule_name)
            instance.add_instigator_state(
                InstigatorState(
                    schedule.get_remote_origin(),
                    InstigatorType.SCHEDULE,
                    InstigatorStatus.RUNNING,
                    ScheduleInstigatorData(schedule.cron_schedule, (tick - timedelta(minutes=1)).timestamp()),
                )
            )


class HoursOfSandbox:
    """The sandbox as seen by one test: Helix events and writes of the sales of its hours only
    (the other tests post other hours to the same sandbox)."""

    def __init__(self, sandbox: Sandbox, hours: list[datetime]):
        self.sandbox = sandbox
        self.sales = {tid for h in hours for tid in sandbox.truth(h, h + timedelta(hours=1)).valid}

    def truth(self, start: datetime, end: datetime):
        return self.sandbox.truth(start, end)

    def helix_events(self) -> list[dict]:
        return [e for e in self.sandbox.helix_events() if e["attributes"]["transaction_id"] in self.sales]

    def helix_writes(self) -> list[dict]:
        return [w for w in self.sandbox.helix_writes() if w["attributes"]["transaction_id"] in self.sales]


class World:
    backfill_id: str  # launched once the world is up

    def __init__(self, topology, sandbox, receiver, database, postgres, postgres_db, tick):
        self.topology, self.sandbox, self.receiver = topology, sandbox, receiver
        self.database, self.postgres, self.postgres_db, self.tick = database, postgres, postgres_db, tick
        self.client = topology.client

    def wait_for_run(self, timeout_s: float = 120, **tags: str) -> dict:
        deadline = time.monotonic() + timeout_s
        while True:
            runs = self.client.runs(tags=tags)
            if runs and all(r["status"] in TERMINAL_RUN_STATUSES for r in runs):
                return runs[0]
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"no finished run tagged {tags} after {timeout_s} s: {runs}\n{self.topology.logs()}"
                )
            time.sleep(1)

    def postgres_count(self, sql: str) -> int:
        with self.postgres.connect(self.postgres_db) as conn, conn.cursor() as cursor:
            cursor.execute(sql)
            return cursor.fetchone()[0]

    def check_hours(self, hours: list[datetime]) -> dict[str, int]:
        """The chaos suite's full comparison with the sandbox's truth, once no run writes DuckDB."""
        deadline = time.monotonic() + 60
        while True:
            try:
                return check_against_truth(HoursOfSandbox(self.sandbox, hours), str(self.database), hours)
            except duckdb.IOException:  # a run (or the :05 reference refresh) holds the file
                if time.monotonic() > deadline:
                    raise
                time.sleep(1)


@pytest.fixture(scope="module")
def world(wheel_python, postgres, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("topology")
    database = workdir / "duckdb" / "jd_helix.duckdb"
    database.parent.mkdir()
    # The sandbox's clock is the real one too (its Helix keeps 30 days back from it).
    with Sandbox.running(SandboxConfig(**SANDBOX, now=real_now()), port=0) as sandbox, webhook_receiver() as receiver:
        # The reference data, so that every hour's sales map to cameras (dimensions_job's own
        # run through the topology is not what these tests are about).
        assert dg.materialize(DIMENSION_ASSETS, resources=resources_for(sandbox, str(database))).success
        postgres_db = postgres.create_database("topology")
        topology = Topology(
            wheel_python.result(),
            postgres.instance_env(postgres_db),
            {
                "JD_API_BASE_URL": sandbox.jd_base_url,
                "JD_API_KEY": sandbox.jd_api_key,
                "VERKADA_API_BASE_URL": sandbox.verkada_base_url,
                "VERKADA_API_KEY": sandbox.verkada_api_key,
                "JD_HELIX_DUCKDB_PATH": str(database),
                "JD_HELIX_LOOKBACK_HOURS": "0",
                "JD_HELIX_ALERT_WEBHOOK_URL": receiver.url,
                "JD_HELIX_UI_URL": "http://dagster.test",
            },
            workdir,
        )
        try:
            topology.start_servers()
            tick = last_tick_time(real_now())
            start_schedule_just_before(topology, "hourly_sales_schedule", tick)
            topology.start_daemon()
            topology.wait_until_ready()
            world = World(topology, sandbox, receiver, database, postgres, postgres_db, tick)
            world.backfill_id = topology.client.launch_asset_backfill(
                HOURLY_ASSETS, [partition_key(hour) for hour in BACKFILL_HOURS], {"test": "backfill"}
            )
            yield world
        finally:
            topology.stop()


def test_the_code_server_runs_the_installed_wheel_outside_the_source_tree(world, wheel_python):
    wheel_python = wheel_python.result()
    code_server = world.topology.processes[0]
    assert code_server.name == "code_server" and code_server.alive()
    assert Path(f"/proc/{code_server.popen.pid}/cmdline").read_bytes().split(b"\0")[0] == bytes(wheel_python)
    where = subprocess.run(
        [str(wheel_python), "-c", "import importlib.util as u; print(u.find_spec('jd_helix.definitions').origin)"],
        cwd=world.topology.workdir,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert Path(where).is_relative_to(wheel_python.parents[1]) and "site-packages" in where, where
    assert not Path(where).is_relative_to(PROJECT_ROOT)


def test_the_daemon_runs_the_hourly_schedule_on_postgres(world):
    run = world.wait_for_run(**{"dagster/schedule_name": "hourly_sales_schedule"})
    assert run["status"] == "SUCCESS", world.client.run_errors(run["runId"])
    tags = {t["key"]: t["value"] for t in run["tags"]}
    # One hour (look-back 0): the one that ended before the tick owed since the recorded start
    # (or before a later tick, if the clock passed another :15 meanwhile).
    assert tags["dagster/asset_partition_range_start"] == tags["dagster/asset_partition_range_end"]
    hour = datetime.strptime(tags["dagster/asset_partition_range_end"], "%Y-%m-%d-%H:%M").replace(tzinfo=UTC)
    tick = hour + timedelta(hours=1, minutes=HOURLY_RUN_MINUTE)
    assert world.tick <= tick <= real_now()
    counts = world.check_hours([hour])
    assert counts["valid_sales"] == SALES_PER_HOUR
    assert counts["ledger_pending"] == counts["ledger_failed"] == 0
    # Run history and schedule ticks are in PostgreSQL.
    assert world.postgres_count(f"SELECT count(*) FROM runs WHERE run_id = '{run['runId']}'") == 1
    assert world.postgres_count("SELECT count(*) FROM job_ticks WHERE status = 'SUCCESS' AND type = 'SCHEDULE'") >= 1


def test_a_24_hour_backfill_launched_like_the_ui_completes_on_postgres(world):
    backfill_id = world.backfill_id  # launched with the topology, so it runs while the schedule test waits
    deadline = time.monotonic() + 240
    while world.client.backfill(backfill_id)["status"] not in (
        "COMPLETED_SUCCESS",
        "COMPLETED_FAILED",
        "FAILED",
        "CANCELED",
    ):
        assert time.monotonic() < deadline, (
            f"backfill not done: {world.client.runs(tags={'dagster/backfill': backfill_id})}"
        )
        time.sleep(2)
    runs = world.client.runs(tags={"dagster/backfill": backfill_id})
    assert world.client.backfill(backfill_id)["status"] == "COMPLETED_SUCCESS", [
        world.client.run_errors(r["runId"]) for r in runs
    ]
    assert runs and all(r["status"] == "SUCCESS" for r in runs)
    counts = world.check_hours(BACKFILL_HOURS)
    assert counts["valid_sales"] == len(BACKFILL_HOURS) * SALES_PER_HOUR
    assert counts["ledger_posted"] + counts["ledger_unmapped"] == counts["valid_sales"]
    assert world.postgres_count(f"SELECT count(*) FROM bulk_actions WHERE key = '{backfill_id}'") == 1
    assert world.postgres_count(
        f"SELECT count(*) FROM run_tags WHERE key = 'dagster/backfill' AND value = '{backfill_id}'"
    ) == len(runs)


def test_a_run_whose_worker_is_sigkilled_is_reported_and_its_hour_recovered(world):
    key = partition_key(KILLED_HOUR)

    def in_step(step_key: str) -> bool:
        return any(s["stepKey"] == step_key and s["status"] == "IN_PROGRESS" for s in step_stats(world.client, run_id))

    world.sandbox.faults.update(api="jd", latency_ms=3000)  # the extraction step lasts a few seconds
    try:
        run_id = world.client.launch_run(
            LOCATION, world.topology.repository, "hourly_sales_job", {"dagster/partition": key}
        )
        deadline = time.monotonic() + 90
        while not (in_step("jd_transactions") and (pid := run_worker_pid(world.client, run_id))):
            assert time.monotonic() < deadline, f"the run never reached jd_transactions:\n{world.topology.logs()}"
            time.sleep(0.2)
        # In jd_transactions, holding the duckdb_writer pool's slot: what an OOM kill does.
        os.kill(pid, signal.SIGKILL)
    finally:
        world.sandbox.faults.reset()

    deadline = time.monotonic() + 60
    while (status := world.client.runs(run_ids=[run_id])[0]["status"]) not in TERMINAL_RUN_STATUSES:
        assert time.monotonic() < deadline, f"the killed run is still {status}:\n{world.topology.logs()}"
        time.sleep(1)
    assert status == "FAILURE"
    texts = world.receiver.wait_for(lambda text: run_id in text, timeout_s=90)
    [alert] = [text for text in texts if run_id in text]
    assert f"run of hourly_sales_job failed - hour {key} UTC, asset jd_transactions" in alert, alert
    assert f"http://dagster.test/runs/{run_id}" in alert
    assert world.sandbox.jd_api_key not in alert and world.sandbox.verkada_api_key not in alert

    retry = world.wait_for_run(timeout_s=150, **{"dagster/parent_run_id": run_id})
    assert retry["status"] == "SUCCESS", world.client.run_errors(retry["runId"])
    counts = world.check_hours([KILLED_HOUR])
    assert counts["ledger_pending"] == counts["ledger_failed"] == 0 and counts["valid_sales"] > 0


CAPTURED_LOGS = """
query RunLogFiles($runId: ID!) {
  logsForRun(runId: $runId, limit: 1000) {
    ... on EventConnection { events { __typename ... on LogsCapturedEvent { fileKey stepKeys } } }
  }
}
"""
CAPTURED_LOG = """
query StepLog($logKey: [String!]!) { capturedLogs(logKey: $logKey) { stdout stderr } }
"""


def test_each_steps_output_is_read_through_the_webserver_from_the_compute_log_folder(world):
    run = world.wait_for_run(**{"dagster/schedule_name": "hourly_sales_schedule"})
    run_id = run["runId"]
    events = world.client.query(CAPTURED_LOGS, {"runId": run_id})["logsForRun"]["events"]
    [captured] = [
        e for e in events if e["__typename"] == "LogsCapturedEvent" and "helix_events" in (e["stepKeys"] or [])
    ]
    log = world.client.query(CAPTURED_LOG, {"logKey": [run_id, "compute_logs", captured["fileKey"]]})["capturedLogs"]
    # The step's own log lines (Dagster writes them to the worker's stderr), as the UI shows them.
    assert "events to post" in (log["stderr"] or ""), log
    assert world.sandbox.jd_api_key not in (log["stderr"] or "") + (log["stdout"] or "")
    # From the folder deploy/dagster.yaml names (compose: the volume compute-logs), not DAGSTER_HOME.
    folder = Path(world.topology.instance_env["JD_HELIX_COMPUTE_LOG_DIR"])
    assert any(run_id in str(path) for path in folder.rglob("*.err"))
    assert not (world.topology.home / "storage" / run_id / "compute_logs").exists()


def test_a_run_in_flight_when_the_code_location_is_replaced_is_failed_and_retried_without_a_person(world):
    key = partition_key(REDEPLOYED_HOUR)

    def in_step(step_key: str) -> bool:
        return any(s["stepKey"] == step_key and s["status"] == "IN_PROGRESS" for s in step_stats(world.client, run_id))

    world.sandbox.faults.update(api="jd", latency_ms=3000)  # the extraction lasts a few seconds
    try:
        run_id = world.client.launch_run(
            LOCATION, world.topology.repository, "hourly_sales_job", {"dagster/partition": key}
        )
        deadline = time.monotonic() + 90
        while not (in_step("jd_transactions") and world.client.runs(run_ids=[run_id])[0]["status"] == "STARTED"):
            assert time.monotonic() < deadline, f"the run never reached jd_transactions:\n{world.topology.logs()}"
            time.sleep(0.2)
        tags = run_tags(world.topology, run_id)  # the worker's tag is hidden from GraphQL (".dagster/")
        assert WORKER_TAG in tags
        # A new container, with another host name where this machine lets a child have one:
        # the old worker can then only be judged by its heartbeat, as from any other host.
        new_host = "jd-helix-code-location-2" if can_rename_host() else None
        replaced_at = time.monotonic()
        world.topology.replace_code_server(new_host)
    finally:
        world.sandbox.faults.reset()
    if new_host:
        assert not tags[WORKER_TAG].startswith(new_host + ":")

    deadline = time.monotonic() + 240
    while (status := world.client.runs(run_ids=[run_id])[0]["status"]) not in TERMINAL_RUN_STATUSES:
        assert time.monotonic() < deadline, (
            f"the run of the replaced container is still {status}:\n{world.topology.logs()}"
        )
        time.sleep(2)
    failed_after_s = time.monotonic() - replaced_at
    assert status == "FAILURE"
    messages = [
        e.get("message") or "" for e in world.client.query(RUN_MESSAGES, {"runId": run_id})["logsForRun"]["events"]
    ]
    assert any("failed by the fail_dead_runs sensor" in m for m in messages), messages[-5:]
    assert world.postgres_count(f"SELECT count(*) FROM concurrency_slots WHERE run_id = '{run_id}'") == 0

    retry = world.wait_for_run(timeout_s=240, **{"dagster/parent_run_id": run_id})
    assert retry["status"] == "SUCCESS", world.client.run_errors(retry["runId"])
    counts = world.check_hours([REDEPLOYED_HOUR])
    assert counts["ledger_pending"] == counts["ledger_failed"] == 0 and counts["valid_sales"] == SALES_PER_HOUR
    print(
        f"redeployed under {new_host or 'the same host name'}: run failed {failed_after_s:.0f} s after the replacement"
    )
