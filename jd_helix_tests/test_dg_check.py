"""`dg check defs` (Dagster's own check of a project, read from [tool.dg]) passes."""

import os
import subprocess
import sys
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def test_dg_check_defs_loads_every_definition():
    venv = Path(sys.executable).parent.parent
    checked = subprocess.run(
        [str(venv / "bin" / "dg"), "check", "defs"],
        cwd=PROJECT_ROOT,
        # dg compares the active virtual environment with the project's.
        env={**os.environ, "VIRTUAL_ENV": str(venv)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "All definitions loaded successfully." in checked.stdout + checked.stderr
