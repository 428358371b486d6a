"""Fixtures of the deployment tests: a real PostgreSQL server, and the project installed from
its wheel (non-editable) the way deploy/Dockerfile installs it."""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Iterator

import pytest

from jd_helix_tests.deploy.postgres import PostgresServer, postgres_server
from jd_helix_tests.deploy.topology import build_wheel, install_wheel


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    with postgres_server() as server:
        yield server


@pytest.fixture(scope="session")
def wheel_python(tmp_path_factory) -> Iterator[Future[Path]]:
    """The wheel's venv python, built in the background while a test sets up the rest."""
    workdir = tmp_path_factory.mktemp("wheel")
    with ThreadPoolExecutor(max_workers=1) as pool:
        yield pool.submit(lambda: install_wheel(build_wheel(workdir), workdir))
