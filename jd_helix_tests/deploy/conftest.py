"""Fixtures of the deployment tests: a real PostgreSQL server (the project's wheel, installed
non-editable the way deploy/Dockerfile installs it, is the session's `wheel_python`)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from jd_helix_tests.deploy.postgres import PostgresServer, postgres_server


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    with postgres_server() as server:
        yield server
