"""The project built as a wheel, as an image or a non-editable install gets it. Built once
per test session (see the `project_wheel` fixture in conftest.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def build_wheel(out_dir: Path) -> Path:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", str(out_dir), str(PROJECT_ROOT)],
        check=True, capture_output=True, timeout=600,
    )
    (wheel,) = out_dir.glob("jd_helix-*.whl")
    return wheel


def install_wheel(wheel: Path, target: Path) -> Path:
    """The wheel unpacked with pip into `target` (no dependencies: the test's venv has them)."""
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--quiet", "--target", str(target), str(wheel)],
        check=True, capture_output=True, timeout=300,
    )
    return target
