"""The default warehouse file is ./data/jd_helix.duckdb under the working directory, for an
editable checkout and a non-editable install alike - never next to the installed package."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from jd_helix.resources.upstream_api_settings import API_SETTINGS

PRINT_PATHS = (
    "import json, jd_helix, jd_helix.definitions as d; "
    "print(json.dumps({'package': jd_helix.__file__, 'warehouse': d.defs.resources['warehouse'].database}))"
)


def test_a_non_editable_install_keeps_the_warehouse_under_the_working_directory(wheel_python, tmp_path):
    python = wheel_python.result()  # a venv holding the project's wheel (jd_helix_tests/wheel.py)
    workdir = tmp_path / "workdir"
    workdir.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in (*API_SETTINGS, "JD_HELIX_DUCKDB_PATH", "PYTHONPATH")}
    out = subprocess.run(
        [str(python), "-c", PRINT_PATHS], cwd=workdir, env=env, capture_output=True, text=True, timeout=120, check=True
    )
    paths = json.loads(out.stdout.strip().splitlines()[-1])
    installed = Path(paths["package"])
    assert installed.is_relative_to(python.parents[1]) and "site-packages" in installed.parts, (
        "the installed copy was imported, not the checkout"
    )
    assert paths["warehouse"] == str(workdir / "data" / "jd_helix.duckdb")


def test_jd_helix_duckdb_path_wins_and_a_relative_one_is_made_absolute(monkeypatch, tmp_path):
    from jd_helix.resources.warehouse import database_path

    monkeypatch.chdir(tmp_path)
    assert database_path({}) == str(tmp_path / "data" / "jd_helix.duckdb")
    assert database_path({"JD_HELIX_DUCKDB_PATH": "w/x.duckdb"}) == str(tmp_path / "w" / "x.duckdb")
    assert database_path({"JD_HELIX_DUCKDB_PATH": "/srv/jd.duckdb"}) == "/srv/jd.duckdb"
