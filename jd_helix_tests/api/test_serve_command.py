"""`jd-helix serve` as a user starts it: a real process on loopback, keys from the environment."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests
from click.testing import CliRunner

from jd_helix.cli.main import main
from jd_helix_tests.api.conftest import GOOD_KEY, KEYS


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_answers_on_loopback_and_logs_the_key_name(warehouse, tmp_path):
    port = _free_port()
    log_path = tmp_path / "serve.log"
    env = {**os.environ, "JD_HELIX_API_KEYS": KEYS}
    command = [sys.executable, "-m", "jd_helix.cli", "serve", "--port", str(port), "--database", warehouse,
               "--replica-dir", str(tmp_path / "replica")]
    with open(log_path, "w") as log:
        server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                if requests.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert server.poll() is None, log_path.read_text()
            time.sleep(0.1)
        stores = requests.get(f"{base}/v1/stores", headers={"X-API-Key": GOOD_KEY}, timeout=5)
        assert stores.status_code == 200 and stores.json()["items"]
        assert requests.get(f"{base}/v1/stores", timeout=5).status_code == 401
    finally:
        server.terminate()
        server.wait(timeout=30)
    output = log_path.read_text()
    assert f"http://127.0.0.1:{port}" in output
    assert 'key=dashboards "GET /v1/stores" 200' in output
    assert GOOD_KEY not in output
    assert not Path(tmp_path / "replica").exists()  # its copy, and the folder, go with it


def test_serve_refuses_to_start_without_keys(tmp_path, monkeypatch):
    monkeypatch.delenv("JD_HELIX_API_KEYS", raising=False)
    result = CliRunner().invoke(main, ["serve", "--database", str(tmp_path / "w.duckdb")])
    assert result.exit_code != 0
    assert "No API keys" in result.output and "--new-key" in result.output


def test_new_key_prints_a_key_and_the_entry_that_grants_it():
    result = CliRunner().invoke(main, ["serve", "--new-key", "bi-team"])
    assert result.exit_code == 0
    key = result.output.split("\n")[1].strip()
    from jd_helix.api.keys import hash_key

    assert f"bi-team:{hash_key(key)}\n" in result.output
    assert f"bi-team:{hash_key(key)}:revoked" in result.output
