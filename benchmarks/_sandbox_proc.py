"""Run `jd-helix sandbox` as its own process for a benchmark (so it does not share our GIL)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
# The sandbox's well-known keys (jd_helix/sandbox/defaults.py); the CLI has no option to change them.
sys.path.insert(0, str(ROOT))
from jd_helix.sandbox.defaults import JD_SANDBOX_API_KEY, VERKADA_SANDBOX_API_KEY  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SandboxProcess:
    def __init__(self, port: int, proc: subprocess.Popen):
        self.port = port
        self.proc = proc
        self.base_url = f"http://127.0.0.1:{port}"
        self.jd_base_url = self.base_url + "/jd"
        self.verkada_base_url = self.base_url + "/verkada"
        self.jd_api_key = JD_SANDBOX_API_KEY
        self.verkada_api_key = VERKADA_SANDBOX_API_KEY

    def admin(self, path: str) -> dict:
        r = requests.get(f"{self.base_url}/_sandbox/{path}", timeout=300)
        r.raise_for_status()
        return r.json()


@contextmanager
def sandbox_process(*args: str, root: Path = ROOT) -> Iterator[SandboxProcess]:
    """`python -m jd_helix.cli sandbox --port <free> *args`, up until the block ends; the
    sandbox of the source tree `root` (this one by default)."""
    port = free_port()
    cmd = [sys.executable, "-m", "jd_helix.cli", "sandbox", "--host", "127.0.0.1", "--port", str(port), *args]
    proc = subprocess.Popen(
        cmd, cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ, "PYTHONUNBUFFERED": "1"}
    )
    sb = SandboxProcess(port, proc)
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"sandbox exited: {proc.stderr.read().decode()[-2000:]}")
            try:
                requests.get(f"{sb.base_url}/_sandbox/health", timeout=1).raise_for_status()
                break
            except requests.RequestException:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield sb
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
