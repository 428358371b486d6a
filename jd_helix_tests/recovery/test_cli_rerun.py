"""Under the CLI (`dagster job execute` on a persistent DAGSTER_HOME, no daemon), a run
killed while it holds a pool slot does not wedge the next one: the re-run sees that the
holder's worker is gone, fails it and frees its slots; a holder it cannot check is named
in one line with the command that frees it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import dagster as dg
import pytest
from click.testing import CliRunner
from dagster._core.storage.dagster_run import DagsterRun, DagsterRunStatus

from jd_helix.cli.free_slots import free_slots_command
from jd_helix.lib.partitions import partition_key
from jd_helix.lib.pools import holders as pool_holders
from jd_helix.lib.pools.worker import WORKER_TAG, Liveness
from jd_helix.sandbox import Sandbox
from jd_helix_tests.e2e.harness import refresh_dimensions, resources_for
from jd_helix_tests.recovery.deployment import PROJECT_ROOT, api_environment, new_dagster_home, real_hour, wait_for
from jd_helix_tests.recovery.test_killed_run_worker import CONFIG, pinned

HOUR = real_hour(20)
CLI_SANDBOX = CONFIG.replace(seed=43, now=real_hour(0))


class Cli:
    """`dagster job execute` and `jd-helix` on one DAGSTER_HOME and warehouse."""

    def __init__(self, root: Path, sandbox: Sandbox):
        self.root, self.home, self.sandbox = root, new_dagster_home(root), sandbox
        self.database = str(root / "jd_helix.duckdb")
        self.env = {
            **os.environ,
            **api_environment(sandbox),
            "JD_HELIX_DUCKDB_PATH": self.database,
            "DAGSTER_HOME": str(self.home),
            "PYTHONPATH": str(PROJECT_ROOT),
        }

    def start(self, name: str, *args: str) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "-m", "dagster", "job", "execute", "-m", "jd_helix.definitions", *args],
            cwd=PROJECT_ROOT,
            env=self.env,
            stdout=open(self.root / f"{name}.out", "wb"),
            stderr=subprocess.STDOUT,
        )

    def execute(self, name: str, *args: str, timeout_s: float = 180) -> tuple[int, str]:
        process = self.start(name, *args)
        return process.wait(timeout=timeout_s), self.output(name)

    def output(self, name: str) -> str:
        return (self.root / f"{name}.out").read_text()


def hour_args(job: str = "hourly_sales_job") -> list[str]:
    return ["-j", job, "--tags", json.dumps({"dagster/partition": partition_key(HOUR)})]


@pytest.fixture(scope="module")
def cli(tmp_path_factory):
    """One DAGSTER_HOME and warehouse for the module, its reference data loaded in process."""
    with Sandbox.running(CLI_SANDBOX, port=0) as sandbox:
        cli = Cli(tmp_path_factory.mktemp("cli"), sandbox)
        assert refresh_dimensions(resources_for(sandbox, cli.database)).success
        yield cli


def only_run(instance: dg.DagsterInstance, job: str, status: DagsterRunStatus) -> DagsterRun:
    runs = instance.get_runs(filters=dg.RunsFilter(job_name=job, statuses=[status]))
    assert len(runs) == 1, runs
    return runs[0]


def test_a_rerun_after_a_kill_in_posting_frees_the_dead_runs_slot_and_completes(cli):
    cli.sandbox.faults.update(api="verkada", latency_ms=2000)
    first = cli.start("killed", *hour_args())
    pinned_at_kill = wait_for("the hour's triples to be pinned", lambda: pinned(cli.database, HOUR), 180, every_s=0.3)
    os.kill(first.pid, signal.SIGKILL)
    assert first.wait(timeout=10) == -signal.SIGKILL
    cli.sandbox.faults.reset()
    with dg.DagsterInstance.from_config(str(cli.home)) as instance:
        dead = only_run(instance, "hourly_sales_job", DagsterRunStatus.STARTED)
        assert pool_holders.judge(instance, dead.run_id).liveness == Liveness.DEAD
        assert dead.run_id in instance.event_log_storage.get_concurrency_run_ids(), "the kill left its slot taken"

    rc, out = cli.execute("rerun", *hour_args())

    assert rc == 0, out[-3000:]
    assert f"Freed the verkada_helix slots of run {dead.run_id}" in out
    with dg.DagsterInstance.from_config(str(cli.home)) as instance:
        run = instance.get_run_by_id(dead.run_id)
        assert run is not None and run.status == DagsterRunStatus.FAILURE
        assert not instance.event_log_storage.get_concurrency_run_ids()
    assert pinned(cli.database, HOUR) == pinned_at_kill
    in_helix = {
        e["attributes"]["transaction_id"]: (e["camera_id"], e["event_type_uid"], e["time_ms"])
        for e in cli.sandbox.helix_events()
    }
    assert in_helix == dict(pinned_at_kill.items()), "each pinned sale once in Helix, same triple"


def test_a_holder_on_another_machine_is_named_in_one_line_with_the_command_that_frees_it(cli, monkeypatch):
    holder = str(uuid.uuid4())
    with dg.DagsterInstance.from_config(str(cli.home)) as instance:
        instance.add_run(
            DagsterRun(
                job_name="hourly_sales_job",
                run_id=holder,
                status=DagsterRunStatus.STARTED,
                tags={WORKER_TAG: "another-machine:4242:1700000000.00"},
            )
        )
        instance.event_log_storage.set_concurrency_slots("verkada_helix", 1)
        assert instance.event_log_storage.claim_concurrency_slot("verkada_helix", holder, "helix_events").is_claimed

    waiting = cli.start("waiting", *hour_args("helix_retry_job"))
    hint = f"jd-helix free-slots {holder}"
    wait_for(
        "the line naming the holder",
        lambda: hint in cli.output("waiting") or waiting.poll() is not None,
        180,
        every_s=0.5,
    )
    assert waiting.poll() is None, "the run must wait while the holder may be alive"
    line = [text for text in cli.output("waiting").splitlines() if hint in text]
    assert len(line) == 1 and "another-machine" in line[0] and f"DAGSTER_HOME={cli.home}" in line[0], line

    monkeypatch.setenv("DAGSTER_HOME", str(cli.home))
    freed = CliRunner().invoke(free_slots_command, [holder])
    assert freed.exit_code == 0, freed.output
    assert freed.output.startswith(f"freed   run {holder} (STARTED, worker another-machine:4242")
    assert waiting.wait(timeout=180) == 0, cli.output("waiting")[-3000:]
    assert cli.output("waiting").count(hint) == 1
    with dg.DagsterInstance.from_config(str(cli.home)) as instance:
        run = instance.get_run_by_id(holder)
        assert run is not None and run.status == DagsterRunStatus.FAILURE
