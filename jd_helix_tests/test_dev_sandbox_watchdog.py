"""`jd-helix dev` notices when its sandbox dies: the dead process is reaped (no zombie left),
the user is told, and the sandbox is started again on its port; one that keeps dying stops
`jd-helix dev` with a message saying how to see why."""

from __future__ import annotations

import subprocess
import sys

import psutil
import pytest
import requests

from jd_helix.cli import dev
from jd_helix.cli.dev import MOST_RESTARTS, SandboxKeepsDying, SandboxWatchdog
from jd_helix_tests.recovery.deployment import free_port, wait_for


def _exited_process(code: int = 3) -> subprocess.Popen:
    process = subprocess.Popen([sys.executable, "-c", f"raise SystemExit({code})"])
    wait_for("the process to exit", lambda: psutil.Process(process.pid).status() == psutil.STATUS_ZOMBIE, 10)
    return process


def test_a_dead_sandbox_is_reaped_reported_and_started_again(capsys):
    port = free_port()
    dead = _exited_process()
    watchdog = SandboxWatchdog(dead, port)
    try:
        watchdog.check()
        assert not psutil.pid_exists(dead.pid), "the dead sandbox is reaped, not left a zombie"
        assert (
            f"the sandbox (pid {dead.pid}) exited with code 3; starting it again on port {port}"
            in capsys.readouterr().err
        )
        assert watchdog.sandbox is not None and watchdog.sandbox.poll() is None
        assert requests.get(f"http://127.0.0.1:{port}/_sandbox/stats", timeout=5).ok
        watchdog.check()  # alive: nothing to do
        assert watchdog.restarts and len(watchdog.restarts) == 1
    finally:
        if watchdog.sandbox is not None:
            watchdog.sandbox.kill()
            watchdog.sandbox.wait()


def test_a_sandbox_that_keeps_dying_stops_dev_with_a_clear_message(monkeypatch):
    monkeypatch.setattr(dev, "_start_sandbox", lambda port: _exited_process(code=1))
    watchdog = SandboxWatchdog(_exited_process(code=1), port=8799)
    for _ in range(MOST_RESTARTS):
        watchdog.check()
    with pytest.raises(SandboxKeepsDying, match=r"exited \(code 1\) 4 times .*jd-helix sandbox --port 8799"):
        watchdog.check()
    assert watchdog.sandbox is None
