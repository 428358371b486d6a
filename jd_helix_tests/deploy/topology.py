"""The container topology of deploy/, as processes on loopback: a PostgreSQL-backed instance
(deploy/dagster.yaml), the jd_helix code server, the webserver and the daemon, each a process
of its own, all three from a non-editable install of the project's wheel (built the way
deploy/Dockerfile builds it, jd_helix_tests/wheel.py) and run outside the source tree, as in the image.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from dagster._grpc.client import DagsterGrpcClient

from benchmarks.dagster_graphql_client import DagsterGraphQL, GraphQLError
from jd_helix_tests.clock import wall_clock_now
from jd_helix_tests.wheel import PROJECT_ROOT

DEPLOY = PROJECT_ROOT / "deploy"
LOCATION = "jd_helix"


# The wall clock, even when JD_HELIX_TEST_NOW has moved this process's clock: the
# topology's processes (the daemon's schedules above all) run on the real one.
real_now = wall_clock_now


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Process:
    """A child in its own process group, stopped group-wide (run workers included)."""

    def __init__(self, name: str, command: list[str], env: dict[str, str], cwd: Path, log_dir: Path):
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        # The child writes the log through its own descriptor: ours is closed once it has started.
        with open(self.log_path, "wb") as log:
            self.popen = subprocess.Popen(
                command, env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

    def alive(self) -> bool:
        return self.popen.poll() is None

    def tail(self, chars: int = 3000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:]

    def signal(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, sig)

    def group_alive(self) -> bool:
        self.popen.poll()  # reap the leader once it has exited: a zombie still counts for killpg(..., 0)
        try:
            os.killpg(self.popen.pid, 0)
            return True
        except ProcessLookupError:
            return False


def stop_all(processes: list[Process], grace_s: float = 10.0) -> None:
    """SIGTERM to every group at once, SIGKILL to what is left after `grace_s`."""
    for sig, wait_s in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 5.0)):
        for process in processes:
            process.signal(sig)
        deadline = time.monotonic() + wait_s
        while any(process.group_alive() for process in processes) and time.monotonic() < deadline:
            time.sleep(0.2)
    for process in processes:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.popen.wait(timeout=5)


def can_rename_host() -> bool:
    """Whether this process may give a child a host name of its own (`unshare --uts`: root)."""
    try:
        return subprocess.run(["unshare", "--uts", "true"], capture_output=True).returncode == 0
    except FileNotFoundError:
        return False


class Topology:
    """PostgreSQL instance + code server + webserver + daemon; the daemon starts separately so
    that a test can set the scene (schedule state) first."""

    def __init__(self, python: Path, instance_env: dict[str, str], code_env: dict[str, str], workdir: Path):
        self.python, self.workdir = python, workdir
        self.home = workdir / "dagster_home"
        self.home.mkdir()
        shutil.copyfile(DEPLOY / "dagster.yaml", self.home / "dagster.yaml")
        self.code_port, self.ui_port = free_port(), free_port()
        base = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "DAGSTER_HOME")}
        self.instance_env = {
            **base,
            **instance_env,
            "DAGSTER_HOME": str(self.home),
            "JD_HELIX_CODE_SERVER_HOST": "127.0.0.1",
            "JD_HELIX_CODE_SERVER_PORT": str(self.code_port),
            "DAGSTER_EVENT_BATCH_SIZE": "1000",  # as deploy/ sets it
            # Apart from DAGSTER_HOME, as compose's volume compute-logs is apart from the instance.
            "JD_HELIX_COMPUTE_LOG_DIR": str(workdir / "compute_logs"),
        }
        self.code_env = {**self.instance_env, **code_env}
        self.processes: list[Process] = []
        self.client = DagsterGraphQL(f"http://127.0.0.1:{self.ui_port}")
        self.repository = ""

    def _start(self, name: str, args: list[str], env: dict[str, str]) -> Process:
        # cwd outside the source tree: only the installed wheel can be imported.
        process = Process(name, [str(self.python), *args], env, self.workdir, self.workdir)
        self.processes.append(process)
        return process

    def _wait(self, what: str, ready, timeout_s: float = 180) -> None:
        deadline = time.monotonic() + timeout_s
        while not ready():
            if not all(process.alive() for process in self.processes) or time.monotonic() > deadline:
                raise RuntimeError(f"{what} did not come up:\n{self.logs()}")
            time.sleep(0.5)

    def _code_server_loaded(self) -> bool:
        try:
            DagsterGrpcClient(port=self.code_port, host="127.0.0.1").list_repositories()
            return True
        except Exception:  # noqa: BLE001 - not up (or still loading) yet
            return False

    def _location_loaded(self, reload: bool) -> bool:
        try:
            self.repository = self.client.wait_until_loaded(LOCATION, timeout_s=1)
            return True
        except GraphQLError:
            if reload:
                self.client.reload_location(LOCATION)
            return False
        except TimeoutError:
            return False

    def start_code_server(self, hostname: str | None = None) -> Process:
        """The code server (as compose's code-location), under another host name if given
        (a new UTS namespace, as a new container gets: `unshare --uts`, which needs root)."""
        command = [
            str(self.python),
            "-m",
            "dagster",
            "code-server",
            "start",
            "-m",
            "jd_helix.definitions",
            "-h",
            "127.0.0.1",
            "-p",
            str(self.code_port),
        ]
        if hostname:
            command = ["unshare", "--uts", "sh", "-c", 'hostname "$0" && exec "$@"', hostname, *command]
        process = Process("code_server", command, self.code_env, self.workdir, self.workdir)
        self.processes.append(process)
        return process

    def replace_code_server(self, hostname: str | None = None) -> Process:
        """What a redeploy does to the code-location container: every process in it (the code
        server and the run workers it started) is killed, and a new one starts in its place."""
        [old] = [p for p in self.processes if p.name == "code_server" and p.alive()]
        old.signal(signal.SIGKILL)  # the whole container at once: no run worker gets to report
        deadline = time.monotonic() + 10
        while old.group_alive() and time.monotonic() < deadline:
            time.sleep(0.1)
        old.popen.wait(timeout=5)
        self.processes.remove(old)
        new = self.start_code_server(hostname)
        self._wait("the new code server", self._code_server_loaded)
        return new

    def start_servers(self) -> None:
        """The code server and the webserver; returns once the code server has loaded jd_helix."""
        self.start_code_server()
        # The webserver and the daemon get no API keys: they only talk to the code server.
        self._start(
            "webserver",
            [
                "-m",
                "dagster_webserver",
                "-h",
                "127.0.0.1",
                "-p",
                str(self.ui_port),
                "-w",
                str(DEPLOY / "workspace.yaml"),
            ],
            self.instance_env,
        )
        self._wait("the code server", self._code_server_loaded)

    def start_daemon(self) -> None:
        self._start("daemon", ["-m", "dagster._daemon", "run", "-w", str(DEPLOY / "workspace.yaml")], self.instance_env)

    def wait_until_ready(self) -> None:
        # A webserver up before its code server shows the location as unreachable until it is
        # reloaded (compose avoids that with a health check; here both start at once, to save time).
        self._wait("the webserver", lambda: self._location_loaded(reload=True))
        self.client.wait_for_daemons(
            timeout_s=180, needed=("SCHEDULER", "SENSOR", "QUEUED_RUN_COORDINATOR", "BACKFILL", "MONITORING")
        )

    def logs(self) -> str:
        return "\n".join(f"--- {p.name} ({'alive' if p.alive() else 'exited'}):\n{p.tail()}" for p in self.processes)

    def stop(self) -> None:
        stop_all(self.processes)
        self.processes.clear()


RUN_MESSAGES = """
query RunMessages($runId: ID!) {
  logsForRun(runId: $runId, limit: 1000) {
    __typename
    ... on EventConnection { events { __typename ... on MessageEvent { message } } }
  }
}
"""


def run_worker_pid(client: DagsterGraphQL, run_id: str) -> int | None:
    """The run worker's pid, from the code server's "Started process for run (pid: N)." event."""
    result = client.query(RUN_MESSAGES, {"runId": run_id})["logsForRun"]
    for event in result.get("events", []):
        found = re.search(r"Started process for run \(pid: (\d+)\)", event.get("message") or "")
        if found:
            return int(found.group(1))
    return None
