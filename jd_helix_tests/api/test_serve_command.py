"""`jd-helix serve` as a user starts it: a real process on loopback, keys from the environment."""

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
from click.testing import CliRunner

from jd_helix.cli.main import main
from jd_helix_tests.api.conftest import GOOD_KEY, KEYS


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serving(warehouse: str, tmp_path: Path, *options: str) -> Iterator[tuple[str, Path]]:
    """`jd-helix serve` in its own process until the block ends: its base URL and log file."""
    port = _free_port()
    log_path = tmp_path / "serve.log"
    env = {**os.environ, "JD_HELIX_API_KEYS": KEYS}
    command = [
        sys.executable,
        "-m",
        "jd_helix.cli",
        "serve",
        "--port",
        str(port),
        "--database",
        warehouse,
        "--replica-dir",
        str(tmp_path / "replica"),
        *options,
    ]
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
        yield base, log_path
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_serve_answers_on_loopback_and_logs_the_key_name(warehouse, tmp_path):
    with serving(warehouse, tmp_path) as (base, log_path):
        port = int(base.rsplit(":", 1)[1])
        stores = requests.get(f"{base}/v1/stores", headers={"X-API-Key": GOOD_KEY}, timeout=5)
        assert stores.status_code == 200 and stores.json()["items"]
        assert requests.get(f"{base}/v1/stores", timeout=5).status_code == 401
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


def _connect(base: str) -> socket.socket:
    host, port = base.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=20)


def test_a_connection_that_never_finishes_its_headers_is_closed(warehouse, tmp_path):
    """Issue 26: 500 half-open connections were all held (no deadline on request heads)."""
    with serving(warehouse, tmp_path, "--head-timeout", "1") as (base, _):
        silent, trickling = _connect(base), _connect(base)
        trickling.sendall(b"GET /v1/stores HTTP/1.1\r\nHost: x\r\n")
        started = time.monotonic()
        while time.monotonic() - started < 15:  # a header line every 0.3 s would keep it open for ever
            try:
                trickling.sendall(b"X-Slow: a\r\n")
            except OSError:
                break  # closed by the server
            time.sleep(0.3)
        assert silent.recv(1024) == b"", "the silent connection is closed, not answered"
        assert time.monotonic() - started < 15, "the trickling connection was kept open"
        # and a client that sends its request at once is answered as ever
        assert requests.get(f"{base}/v1/stores", headers={"X-API-Key": GOOD_KEY}, timeout=5).status_code == 200


def test_request_heads_have_a_size_limit_and_keys_the_rate_limit_given(warehouse, tmp_path):
    with serving(warehouse, tmp_path, "--rate-limit", "5") as (base, _):
        answered = requests.get(f"{base}/v1/stores", headers={"X-API-Key": GOOD_KEY}, timeout=5)
        assert answered.headers["RateLimit-Policy"] == '"per-key";q=5;w=60'
        assert answered.headers["RateLimit"].startswith('"per-key";r=4;')
        huge = requests.get(
            f"{base}/v1/stores", headers={"X-API-Key": GOOD_KEY, "X-Padding": "a" * 64 * 1024}, timeout=10
        )
        assert huge.status_code == 431 and huge.json()["type"] == "urn:jd-helix:problem:headers-too-large"
        # a head that arrives in pieces is refused by h11 before it is whole
        pieces = _connect(base)
        pieces.sendall(b"GET /v1/stores HTTP/1.1\r\nHost: x\r\n")
        for _ in range(40):
            try:
                pieces.sendall(b"X-Padding: " + b"a" * 1000 + b"\r\n")
            except OSError:
                break
            time.sleep(0.01)
        assert pieces.recv(1024).startswith(b"HTTP/1.1 400")
        assert requests.get(f"{base}/v1/stores", headers={"X-API-Key": GOOD_KEY}, timeout=5).status_code == 200
