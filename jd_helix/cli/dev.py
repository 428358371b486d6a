"""`jd-helix dev`: `dg dev`, and the sandbox when no API setting is given at all.

The sandbox is chosen on purpose: with none of the four API settings, the sandbox is
started and the four are pointed at it; with all four, the real APIs are used; with some,
nothing starts and the missing ones are named.

DAGSTER_HOME is the project's own `.dagster_home/`, refreshed with the shipped
`dagster.yaml`, so runs, schedules and backfills keep their history between starts and
always use the instance settings the project was tested with. On the very first start
against the sandbox (no warehouse yet) it also launches the reference data and the last
few hours, so a new user opens the UI to data rather than to empty tables.
"""

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from dagster import DagsterRunStatus
from dagster_graphql import DagsterGraphQLClient, DagsterGraphQLClientError
from dotenv import dotenv_values

from jd_helix.lib.partitions import partition_key, partition_range_tags
from jd_helix.resources.upstream_api_settings import HalfConfiguredError, api_settings_given, check_api_settings
from jd_helix.resources.warehouse import DEFAULT_DATABASE
from jd_helix.sandbox import defaults as sandbox_defaults

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DAGSTER_HOME = PROJECT_ROOT / ".dagster_home"
FIRST_START_HOURS = 3


def _port_open(host: str, port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex((host, port)) == 0


def _settings() -> dict:
    """The environment as `dg dev` will see it: .env first, real variables on top."""
    return {**dotenv_values(PROJECT_ROOT / ".env"), **os.environ}


def sandbox_api_settings(port: int = sandbox_defaults.SANDBOX_PORT) -> dict[str, str]:
    """The four API settings of the sandbox `jd-helix dev` starts."""
    return {
        "JD_API_BASE_URL": sandbox_defaults.jd_base_url(port=port),
        "JD_API_KEY": sandbox_defaults.JD_SANDBOX_API_KEY,
        "VERKADA_API_BASE_URL": sandbox_defaults.verkada_base_url(port=port),
        "VERKADA_API_KEY": sandbox_defaults.VERKADA_SANDBOX_API_KEY,
    }


def choose_apis(settings: dict, sandbox_port: int = sandbox_defaults.SANDBOX_PORT) -> dict[str, str] | None:
    """The sandbox's settings when no API setting is given, None when all four are (real
    APIs); a half configuration stops here, naming what is missing."""
    try:
        check_api_settings(settings)
    except HalfConfiguredError as error:
        raise SystemExit(f"jd-helix dev: {error}") from None
    return None if api_settings_given(settings) else sandbox_api_settings(sandbox_port)


def _start_sandbox(port: int) -> subprocess.Popen | None:
    host = sandbox_defaults.SANDBOX_HOST
    if _port_open(host, port):
        print(f"Using the sandbox already listening on {host}:{port}.")
        return None
    process = subprocess.Popen([sys.executable, "-m", "jd_helix.cli", "sandbox", "--port", str(port)])
    deadline = time.monotonic() + 30
    while not _port_open(host, port):
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"The sandbox did not start on {host}:{port}.")
        time.sleep(0.2)
    return process


WATCH_EVERY_S = 1.0
# A sandbox that dies this often within RESTART_WINDOW_S will not stay up: stop, saying so.
MOST_RESTARTS = 3
RESTART_WINDOW_S = 60.0


class SandboxKeepsDying(Exception):
    pass


class SandboxWatchdog:
    """Notices when the sandbox `jd-helix dev` started has exited: reaps it (no zombie), says
    so, and starts it again; one that keeps dying stops `jd-helix dev` with its exit code."""

    def __init__(self, sandbox: subprocess.Popen | None, port: int):
        self.sandbox = sandbox
        self.port = port
        self.restarts: list[float] = []

    def check(self) -> None:
        if self.sandbox is None or (code := self.sandbox.poll()) is None:  # poll() reaps it
            return
        now = time.monotonic()
        self.restarts = [t for t in self.restarts if now - t < RESTART_WINDOW_S] + [now]
        if len(self.restarts) > MOST_RESTARTS:
            self.sandbox = None
            raise SandboxKeepsDying(
                f"the sandbox on port {self.port} exited (code {code}) {len(self.restarts)} times within "
                f"{RESTART_WINDOW_S:.0f} s; stopping. Run `.venv/bin/jd-helix sandbox --port {self.port}` to see why."
            )
        print(
            f"jd-helix dev: the sandbox (pid {self.sandbox.pid}) exited with code {code}; starting it again on port "
            f"{self.port}. Its Helix starts empty; runs that failed meanwhile are run again by hour_recovery_sensor.",
            file=sys.stderr,
        )
        self.sandbox = _start_sandbox(self.port)


def _wait_for_run(client: DagsterGraphQLClient, run_id: str) -> DagsterRunStatus:
    while True:
        status = client.get_run_status(run_id)
        if status in (DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED):
            return status
        time.sleep(2)


def _launch_first_data(ui_port: int) -> None:
    """Reference data first, then the last few complete hours, through the UI's own API."""
    deadline = time.monotonic() + 180
    while not _port_open("127.0.0.1", ui_port):
        if time.monotonic() > deadline:
            return
        time.sleep(1)
    client = DagsterGraphQLClient("127.0.0.1", port_number=ui_port)
    try:
        time.sleep(5)  # let the code location finish loading
        status = _wait_for_run(client, client.submit_job_execution("dimensions_job"))
        if status != DagsterRunStatus.SUCCESS:
            print(f"First start: dimensions_job ended {status.value}; see the UI.")
            return
        last = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
        first = last - timedelta(hours=FIRST_START_HOURS - 1)
        client.submit_job_execution(
            "hourly_sales_job",
            tags=partition_range_tags(partition_key(first), partition_key(last)),
        )
        print(f"First start: loading {partition_key(first)} .. {partition_key(last)} from the sandbox.")
    except DagsterGraphQLClientError as error:
        print(f"First start: could not launch the first runs ({error}); materialize them from the UI.")


def run_dev(
    ui_port: int = 3000, sandbox_port: int = sandbox_defaults.SANDBOX_PORT, dagster_home: Path = DAGSTER_HOME
) -> int:
    settings = _settings()
    sandbox_settings = choose_apis(settings, sandbox_port)
    # `kill` (SIGTERM) and a closed terminal (SIGHUP) stop everything as Ctrl-C does: dg dev
    # runs in a session of its own, which neither would reach, and would be left running.
    for stop_signal in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(stop_signal, signal.default_int_handler)
    dagster_home.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(PROJECT_ROOT / "dagster.yaml", dagster_home / "dagster.yaml")
    sandbox = None
    if sandbox_settings is not None:
        print("No API settings given: using the built-in sandbox (set all four in .env for the real APIs).")
        sandbox = _start_sandbox(sandbox_port)
    # A relative warehouse path is relative to the project folder.
    warehouse = PROJECT_ROOT / (settings.get("JD_HELIX_DUCKDB_PATH") or DEFAULT_DATABASE)
    first_start = sandbox_settings is not None and not warehouse.exists()
    if first_start:
        threading.Thread(target=_launch_first_data, args=(ui_port,), daemon=True).start()
    # dg dev runs in DAGSTER_HOME: started in the project folder it warns that the
    # project's dagster.yaml "will not be used" (the copy above is). So the paths and the
    # .env it would read from the project folder are handed over here, and the code
    # location is named by workspace.yaml: without it, dg dev finds the project through
    # [tool.dg] but first moves into the project folder, with the same warning.
    env = {
        **{name: value for name, value in settings.items() if value is not None},
        **(sandbox_settings or {}),
        "JD_HELIX_DUCKDB_PATH": str(warehouse),
        "DAGSTER_HOME": str(dagster_home),
    }
    workspace = str(PROJECT_ROOT / "workspace.yaml")
    command = [sys.executable, "-m", "dagster_dg_cli.cli", "dev", "-w", workspace, "-p", str(ui_port)]
    print(f"Dagster UI: http://localhost:{ui_port}  (DAGSTER_HOME={dagster_home})")
    # Its own process group, so that Ctrl-C here stops dg dev and everything it started.
    dagster = subprocess.Popen(command, env=env, cwd=dagster_home, start_new_session=True)
    watchdog = SandboxWatchdog(sandbox, sandbox_port)
    try:
        while (code := dagster.poll()) is None:
            watchdog.check()
            time.sleep(WATCH_EVERY_S)
        return code
    except KeyboardInterrupt:
        return 0
    except SandboxKeepsDying as error:
        print(f"jd-helix dev: {error}", file=sys.stderr)
        return 1
    finally:
        _stop_group(dagster, grace_s=4)
        if watchdog.sandbox is not None:
            _stop_group(watchdog.sandbox, grace_s=2, whole_group=False)


def _stop_group(process: subprocess.Popen, grace_s: float, whole_group: bool = True) -> None:
    """SIGTERM, then SIGKILL after `grace_s`: Ctrl-C stops every process within 10 s."""

    def send(sig: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig) if whole_group else process.send_signal(sig)

    send(signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=grace_s)
    # The group's other members (code server, daemon, run workers) may outlive its leader.
    send(signal.SIGKILL)
    process.wait()
