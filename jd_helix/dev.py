"""`jd-helix dev`: the sandbox (unless real APIs are configured) and `dagster dev`, together.

DAGSTER_HOME is the project's own `.dagster_home/`, refreshed with the shipped
`dagster.yaml`, so runs, schedules and backfills keep their history between starts and
always use the instance settings the project was tested with.
"""

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

from dotenv import dotenv_values

from jd_helix.sandbox import defaults as sandbox_defaults

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DAGSTER_HOME = PROJECT_ROOT / ".dagster_home"


def _port_open(host: str, port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex((host, port)) == 0


def _settings() -> dict:
    """The environment as `dagster dev` will see it: .env first, real variables on top."""
    return {**dotenv_values(PROJECT_ROOT / ".env"), **os.environ}


def _start_sandbox() -> subprocess.Popen | None:
    host, port = sandbox_defaults.SANDBOX_HOST, sandbox_defaults.SANDBOX_PORT
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


def run_dev(ui_port: int = 3000) -> int:
    DAGSTER_HOME.mkdir(exist_ok=True)
    shutil.copyfile(PROJECT_ROOT / "dagster.yaml", DAGSTER_HOME / "dagster.yaml")
    settings = _settings()
    uses_sandbox = not (settings.get("JD_API_BASE_URL") and settings.get("VERKADA_API_BASE_URL"))
    sandbox = _start_sandbox() if uses_sandbox else None
    env = {**os.environ, "DAGSTER_HOME": str(DAGSTER_HOME)}
    command = [sys.executable, "-m", "dagster", "dev", "-w", str(PROJECT_ROOT / "workspace.yaml"), "-p", str(ui_port)]
    print(f"Dagster UI: http://localhost:{ui_port}  (DAGSTER_HOME={DAGSTER_HOME})")
    try:
        return subprocess.call(command, env=env, cwd=PROJECT_ROOT)
    except KeyboardInterrupt:
        return 0
    finally:
        if sandbox is not None:
            sandbox.terminate()
            sandbox.wait(timeout=10)
