"""`jd-helix sandbox` serves both APIs and prints what to use."""

from __future__ import annotations

import subprocess
import sys

import requests
from click.testing import CliRunner

from jd_helix.cli.main import main


def test_help_lists_the_sandbox_command():
    r = CliRunner().invoke(main, ["sandbox", "--help"])
    assert r.exit_code == 0 and "--port" in r.output and "--fault-5xx-rate" in r.output


def test_sandbox_command_serves_until_stopped():
    p = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jd_helix.cli",
            "sandbox",
            "--port",
            "0",
            "--clean",
            "--fault-api",
            "jd",
            "--fault-429-burst",
            "1",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert p.stdout is not None  # stdout=PIPE
    try:
        lines = [p.stdout.readline() for _ in range(6)]
        env = dict(line.strip().split("=", 1) for line in lines if "=" in line)
        jd_url, key = env["JD_API_BASE_URL"], env["JD_API_KEY"]
        s = requests.Session()
        s.headers["X-API-Key"] = key
        assert s.get(jd_url + "/v1/stores").status_code == 429
        assert s.get(jd_url + "/v1/stores").json()["data"]
        tok = requests.post(env["VERKADA_API_BASE_URL"] + "/token", headers={"x-api-key": env["VERKADA_API_KEY"]})
        assert tok.json()["token"].startswith("v2_")
    finally:
        p.terminate()
        p.wait(timeout=10)
