"""Ctrl-C in the terminal of `make run` (`jd-helix dev`) stops every process it started -
the sandbox, `dg dev`, the webserver, the daemon and the code servers - within 10 s.

`jd-helix dev` runs as a real process in a process group of its own, as a shell runs a
foreground command, on free ports and a DAGSTER_HOME of its own; SIGINT goes to that
group, as the terminal sends it. Its log carries none of the notices issue 14 found.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import psutil
import requests

from jd_helix_tests.recovery.deployment import free_port, wait_for

STOP_BUDGET_S = 10
API_SETTINGS = ("JD_API_BASE_URL", "JD_API_KEY", "VERKADA_API_BASE_URL", "VERKADA_API_KEY")
# What `jd-helix dev` starts, as each shows in its command line.
EXPECTED = {
    "sandbox": "jd_helix.cli sandbox",
    "dg dev": "dagster_dg_cli.cli dev",
    "webserver": "dagster_webserver",
    "daemon": "dagster._daemon run",
    "code server": "dagster code-server start",
    "gRPC code server": "dagster api grpc",
}


def answers(port: int, dev: subprocess.Popen, log) -> bool:
    if dev.poll() is not None:
        raise AssertionError(f"jd-helix dev exited {dev.returncode}: {log.read_text()[-3000:]}")
    try:
        return requests.get(f"http://127.0.0.1:{port}/server_info", timeout=2).ok
    except requests.RequestException:
        return False


def still_running(processes: list[psutil.Process]) -> list[psutil.Process]:
    """Those not yet gone (a zombie has ended: only its parent's bookkeeping is left)."""
    alive = []
    for process in processes:
        try:
            if process.is_running() and process.status() != psutil.STATUS_ZOMBIE:
                alive.append(process)
        except psutil.NoSuchProcess:
            pass
    return alive


def test_ctrl_c_stops_everything_make_run_started_within_10_s(tmp_path):
    ui_port, sandbox_port = free_port(), free_port()
    log = tmp_path / "dev.log"
    # No API setting: the sandbox is started, as on a new user's first `make run`.
    env = {name: value for name, value in os.environ.items() if name not in API_SETTINGS}
    env["JD_HELIX_DUCKDB_PATH"] = str(tmp_path / "jd_helix.duckdb")
    with open(log, "wb") as log_file:  # the child keeps its own descriptor
        dev = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "jd_helix.cli",
                "dev",
                "--port",
                str(ui_port),
                "--sandbox-port",
                str(sandbox_port),
                "--dagster-home",
                str(tmp_path / "dagster_home"),
            ],
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    tree: list[psutil.Process] = []
    try:
        wait_for("the Dagster UI to answer", lambda: answers(ui_port, dev, log), 120, every_s=0.5)
        # Collected before the signal: once it has gone out, the tree falls apart.
        tree = [psutil.Process(dev.pid), *psutil.Process(dev.pid).children(recursive=True)]
        commands = {p.pid: " ".join(p.cmdline()) for p in tree}
        for name, marker in EXPECTED.items():
            assert any(marker in command for command in commands.values()), (name, commands)

        os.killpg(dev.pid, signal.SIGINT)
        signalled = time.monotonic()
        wait_for(
            f"every process to stop within {STOP_BUDGET_S} s",
            lambda: not still_running(tree),
            STOP_BUDGET_S,
            every_s=0.1,
        )
        took = time.monotonic() - signalled
        output = log.read_text()
        assert dev.wait(timeout=1) == 0, output[-3000:]
        print(f"all {len(tree)} processes gone {took:.1f} s after Ctrl-C")
        # `dg dev` in DAGSTER_HOME: no "dagster dev is superseded", no "dagster.yaml will not be used".
        for notice in ("SupersessionWarning", "will not be used", "BetaWarning", "PreviewWarning"):
            assert notice not in output, output[-3000:]
    finally:
        for process in still_running(tree) + ([psutil.Process(dev.pid)] if dev.poll() is None else []):
            process.kill()
        dev.wait(timeout=10)
