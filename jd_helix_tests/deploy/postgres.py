"""A real PostgreSQL server for the tests and benchmarks of the production instance.

With JD_HELIX_TEST_PG_URL set (postgresql://user:password@host:port/db) that server is used;
otherwise a fresh one is started from Debian's `postgresql` binaries (installed by .ci/run) in
a temp dir on a free loopback port, and stopped at the end. Each user gets a database of its
own. PostgreSQL refuses to run as root, so as root the server runs as the `postgres` user.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import psycopg2

EXTERNAL_URL_ENV = "JD_HELIX_TEST_PG_URL"
SERVER_USER = "dagster"


def postgres_bin_dir() -> Path:
    """The newest installed server's bin dir (Debian keeps them in /usr/lib/postgresql/N/bin)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).resolve().parent
    raise RuntimeError(
        "No PostgreSQL server binaries found: install Debian's `postgresql` package "
        f"(.ci/run does it) or set {EXTERNAL_URL_ENV} to a server you run."
    )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class PostgresServer:
    """Connection settings of a server, and a fresh database on it for each caller."""

    def __init__(self, host: str, port: int, user: str, password: str, admin_db: str):
        self.host, self.port, self.user, self.password, self.admin_db = host, port, user, password, admin_db

    def connect(self, database: str | None = None):
        return psycopg2.connect(
            host=self.host, port=self.port, user=self.user, password=self.password, dbname=database or self.admin_db
        )

    def create_database(self, prefix: str = "jd_helix") -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:10]}"
        conn = self.connect()
        conn.autocommit = True  # CREATE DATABASE cannot run in a transaction
        try:
            with conn.cursor() as cursor:
                cursor.execute(f'CREATE DATABASE "{name}"')
        finally:
            conn.close()
        return name

    def instance_env(self, database: str) -> dict[str, str]:
        """The variables deploy/dagster.yaml reads."""
        return {
            "DAGSTER_PG_HOST": self.host,
            "DAGSTER_PG_PORT": str(self.port),
            "DAGSTER_PG_DB": database,
            "DAGSTER_PG_USERNAME": self.user,
            "DAGSTER_PG_PASSWORD": self.password,
        }


@contextlib.contextmanager
def local_postgres_server() -> Iterator[PostgresServer]:
    """initdb + pg_ctl start in a temp dir; stopped (immediately) and removed afterwards."""
    bin_dir = postgres_bin_dir()
    root = Path(tempfile.mkdtemp(prefix="jd_helix_pg_"))
    run_as = pwd.getpwnam("postgres") if os.geteuid() == 0 else None
    if run_as is not None:
        os.chown(root, run_as.pw_uid, run_as.pw_gid)
    data, log = root / "data", root / "server.log"
    port = _free_port()

    def pg(*args: str) -> None:
        result = subprocess.run(
            [str(bin_dir / args[0]), *args[1:]],
            user=run_as.pw_uid if run_as else None,
            group=run_as.pw_gid if run_as else None,
            capture_output=True,
            text=True,
            cwd=root,
        )
        if result.returncode != 0:
            server_log = log.read_text()[-2000:] if log.exists() else ""
            raise RuntimeError(f"{args[0]} failed ({result.returncode}): {result.stderr[-2000:]}\n{server_log}")

    try:
        pg("initdb", "-D", str(data), "-U", SERVER_USER, "-A", "trust", "-E", "UTF8", "--no-sync")
        # Loopback only, socket in our own dir; durability off: a test server holds nothing.
        options = f"-h 127.0.0.1 -p {port} -k {root} -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        pg("pg_ctl", "-D", str(data), "-l", str(log), "-o", options, "-w", "-t", "60", "start")
        try:
            yield PostgresServer("127.0.0.1", port, SERVER_USER, "", "postgres")
        finally:
            pg("pg_ctl", "-D", str(data), "-m", "immediate", "-w", "stop")
    finally:
        shutil.rmtree(root, ignore_errors=True)


@contextlib.contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    """The server named by JD_HELIX_TEST_PG_URL, or a local one started for the duration."""
    url = os.environ.get(EXTERNAL_URL_ENV)
    if url:
        parts = urlsplit(url)
        yield PostgresServer(
            parts.hostname or "127.0.0.1",
            parts.port or 5432,
            parts.username or "postgres",
            parts.password or "",
            parts.path.lstrip("/") or "postgres",
        )
        return
    with local_postgres_server() as server:
        yield server
