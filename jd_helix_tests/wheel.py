"""The project built as a wheel and installed non-editable, as deploy/Dockerfile builds and
installs it: the one wheel of the test session (see the `wheel_python` fixture in conftest.py),
built once and shared by the tests that need an installed copy, even across pytest-xdist workers.
"""

from __future__ import annotations

import fcntl
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
# What deploy/Dockerfile copies into its build stage.
IMAGE_SOURCES = ("pyproject.toml", "setup.py", "README.md", "jd_helix")


def build_wheel(workdir: Path) -> Path:
    """`pip wheel --no-deps` over the files the Dockerfile copies, as its build stage does."""
    source = workdir / "src"
    source.mkdir()
    for name in IMAGE_SOURCES:
        copy = shutil.copytree if (PROJECT_ROOT / name).is_dir() else shutil.copyfile
        copy(PROJECT_ROOT / name, source / name)
    shutil.rmtree(source / "jd_helix" / "__pycache__", ignore_errors=True)
    wheels = workdir / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(wheels), str(source)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    return next(wheels.glob("jd_helix-*.whl"))


def install_wheel(wheel: Path, workdir: Path) -> Path:
    """A venv holding the wheel (non-editable) whose dependencies come from the project's venv
    (a .pth line: the same pinned versions without a second download). Returns its python."""
    venv = workdir / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site_packages = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps", str(wheel)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    # Appended after the venv's own site-packages, so jd_helix resolves to the installed wheel.
    (site_packages / "zz_project_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return python


def shared_wheel_python(session_dir: Path) -> Path:
    """The venv python of the session's wheel under `session_dir`: the first caller builds and
    installs it, the others (other xdist workers included) wait for it and reuse it."""
    workdir = session_dir / "project_wheel"
    ready = workdir / "python"  # written last: its presence means the install is complete
    with open(session_dir / "project_wheel.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not ready.exists():
            shutil.rmtree(workdir, ignore_errors=True)  # a build that failed half-way
            workdir.mkdir()
            ready.write_text(str(install_wheel(build_wheel(workdir), workdir)))
    return Path(ready.read_text())
