"""A deployment as `make run` runs it, for tests that kill its processes: a persistent
DAGSTER_HOME holding the shipped dagster.yaml, `dagster dev` (webserver, daemon and a code
server whose run workers are the processes killed) pointed at a sandbox, and a DuckDB file.

Runs are launched through the webserver's GraphQL API, as the UI does; their state is read
from the instance itself.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import TypeVar

import dagster as dg
import requests
from dagster._core.storage.tags import PARENT_RUN_ID_TAG, PARTITION_NAME_TAG
from dagster_graphql import DagsterGraphQLClient

from jd_helix.lib.pools.worker import WORKER_TAG
from jd_helix_tests.clock import wall_clock_now

PROJECT_ROOT = Path(__file__).resolve().parents[2]
LOCATION_STATUS = """
{ workspaceOrError { ... on Workspace { locationEntries { loadStatus locationOrLoadError { __typename } } } } }
"""
T = TypeVar("T")


def real_hour(hours_ago: int) -> datetime:
    """A whole UTC hour by the wall clock. The processes Dagster starts (code server, run
    workers, `dagster job execute`) do not follow JD_HELIX_TEST_NOW, so hours they must
    treat as recent are taken from the real clock (and the sandbox is given it as `now`)."""
    return wall_clock_now().replace(minute=0, second=0, microsecond=0) - timedelta(hours=hours_ago)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(what: str, check: Callable[[], T | None], timeout_s: float, every_s: float = 0.2) -> T:
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(every_s)


def api_environment(sandbox) -> dict[str, str]:
    return {
        "JD_API_BASE_URL": sandbox.jd_base_url,
        "JD_API_KEY": sandbox.jd_api_key,
        "VERKADA_API_BASE_URL": sandbox.verkada_base_url,
        "VERKADA_API_KEY": sandbox.verkada_api_key,
    }


def new_dagster_home(root: Path) -> Path:
    home = root / "dagster_home"
    home.mkdir()
    shutil.copyfile(PROJECT_ROOT / "dagster.yaml", home / "dagster.yaml")
    return home


class DagsterDev:
    """`dagster dev -w workspace.yaml` on a DAGSTER_HOME, started and stopped with the test."""

    def __init__(self, home: Path, env: dict[str, str], log_path: Path):
        self.home = home
        self.port = free_port()
        self.log_path = log_path
        self.env = {**os.environ, **env, "DAGSTER_HOME": str(home)}
        self._process: subprocess.Popen | None = None
        self.instance = dg.DagsterInstance.from_config(str(home))

    def __enter__(self) -> DagsterDev:
        command = [
            sys.executable,
            "-m",
            "dagster",
            "dev",
            "-w",
            str(PROJECT_ROOT / "workspace.yaml"),
            "-p",
            str(self.port),
        ]
        self._process = subprocess.Popen(
            command,
            cwd=PROJECT_ROOT,
            env=self.env,
            stdout=open(self.log_path, "wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.client = DagsterGraphQLClient("127.0.0.1", port_number=self.port)
        wait_for("the code location to load in dagster dev", self._location_loaded, 120, every_s=1)
        return self

    def _location_loaded(self) -> bool:
        assert self._process is not None  # started by __enter__
        if self._process.poll() is not None:
            raise AssertionError(f"dagster dev exited: {self.log_path.read_text()[-3000:]}")
        try:
            answer = requests.post(
                f"http://127.0.0.1:{self.port}/graphql", json={"query": LOCATION_STATUS}, timeout=5
            ).json()
        except (requests.RequestException, ValueError):
            return False
        entries = answer["data"]["workspaceOrError"].get("locationEntries", [])
        return any(
            e["loadStatus"] == "LOADED" and e["locationOrLoadError"]["__typename"] == "RepositoryLocation"
            for e in entries
        )

    def __exit__(self, *exc) -> None:
        self.instance.dispose()
        if self._process is not None and self._process.poll() is None:
            os.killpg(self._process.pid, signal.SIGTERM)
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self._process.pid, signal.SIGKILL)
                self._process.wait()

    def launch(self, job: str, partition: str) -> str:
        return self.client.submit_job_execution(job, tags={PARTITION_NAME_TAG: partition})

    def run(self, run_id: str) -> dg.DagsterRun:
        run = self.instance.get_run_by_id(run_id)
        assert run is not None, run_id
        return run

    def worker_pid(self, run_id: str) -> int:
        """The pid of the run's worker, once it has started executing steps."""
        worker = wait_for(f"run {run_id} to record its worker", lambda: self.run(run_id).tags.get(WORKER_TAG), 120)
        return int(worker.rsplit(":", 2)[1])

    def step_started(self, run_id: str, step_key: str) -> bool:
        records = self.instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.STEP_START).records
        return any(record.event_log_entry.step_key == step_key for record in records)

    def retry_of(self, run_id: str) -> dg.DagsterRun | None:
        runs = self.instance.get_runs(filters=dg.RunsFilter(tags={PARENT_RUN_ID_TAG: run_id}), limit=1)
        return runs[0] if runs else None

    def holds_slots(self, run_id: str) -> bool:
        return run_id in self.instance.event_log_storage.get_concurrency_run_ids()

    def idle(self) -> bool:
        """No run queued, starting or in progress."""
        busy = [
            dg.DagsterRunStatus.QUEUED,
            dg.DagsterRunStatus.NOT_STARTED,
            dg.DagsterRunStatus.STARTING,
            dg.DagsterRunStatus.STARTED,
        ]
        return not self.instance.get_runs(filters=dg.RunsFilter(statuses=busy), limit=1)

    def ended(self, run_id: str) -> dg.DagsterRunStatus | None:
        run = self.run(run_id)
        return run.status if run.is_finished else None
