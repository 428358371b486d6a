"""The DuckDB warehouse: its tables, and short-lived connections for reads and writes.

DuckDB lets one process at a time open the file for writing (or several for reading), so
connections are opened only around the SQL that needs them (HTTP and parsing happen
before), opening one waits with backoff while another process holds the file, and every
connection is closed as soon as its block ends, by an exception too.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import psutil
import pyarrow as pa
from dagster_duckdb import DuckDBResource

from jd_helix.resources.migrations import migrate

# Relative to the working directory of the Dagster processes (`make run`: the project
# folder; an image: its WORKDIR), never to where the package is installed.
DEFAULT_DATABASE = "data/jd_helix.duckdb"


def database_path(environment: Mapping[str, str] = os.environ) -> str:
    """The warehouse file: JD_HELIX_DUCKDB_PATH, else DEFAULT_DATABASE, made absolute."""
    return os.path.abspath(environment.get("JD_HELIX_DUCKDB_PATH") or DEFAULT_DATABASE)


def single_row(result: duckdb.DuckDBPyConnection) -> tuple[Any, ...]:
    """The one row of an aggregate query's ``result``, read to its end (so that the connection
    is free for its next query, `conn.sql(...)` included)."""
    rows = result.fetchall()
    if len(rows) != 1:
        raise RuntimeError(f"the query returned {len(rows)} rows, not one")
    return rows[0]


def open_read_only(database: str) -> duckdb.DuckDBPyConnection | None:
    """A read-only connection, or None while another process writes the file (or it does not exist).

    For readers outside runs (the retry sensor, reports): they must never wait on, or
    block, the single writer.
    """
    if not Path(database).exists():
        return None
    try:
        return duckdb.connect(database, read_only=True)
    except duckdb.IOException:
        return None


# Opening the file while another process writes it raises: wait 0.1 s, 0.2 s, 0.4 s...
# (about 100 s in all, as DuckDBResource does) before giving up.
CONNECT_RETRIES = 10
FIRST_RETRY_WAIT_S = 0.1

# DuckDB may use 80 % of RAM by default, and keeps what an insert buffers in memory as long
# as it may: with a limit it spills the rest to its temp folder (<warehouse>.tmp), so a busy
# hour costs disk, not memory (100,000 sales stay well under it). At 1,000,000 sales it takes
# the join's step from +312 to +170 MiB in the same time.
BULK_WRITE_MEMORY_LIMIT = "128MB"

_schema_lock = threading.Lock()
_schema_ready: set[str] = set()  # databases this process has migrated (or found up to date)


class WarehouseResource(DuckDBResource):
    """DuckDBResource plus the project's schema, read-only reads and a transaction helper.

    The schema is brought up to date (migrations.py) once per process and database, the
    first time a connection is asked for, not on every connection.
    """

    @contextmanager
    def get_connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-write connection, closed when the block ends, by an exception too."""
        with self._connection(read_only=False) as conn:
            yield conn

    @contextmanager
    def read(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-only connection: it shares the file with other readers and cannot write."""
        with self._connection(read_only=True) as conn:
            yield conn

    @contextmanager
    def write(self, *, bulk: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """One transaction: everything inside commits together or not at all.

        `bulk`: an hour's rows inserted at once (extraction, the join) spill to disk beyond
        BULK_WRITE_MEMORY_LIMIT instead of growing the process with the hour."""
        with self._connection(read_only=False) as conn:
            if bulk:
                conn.execute(f"SET memory_limit = '{BULK_WRITE_MEMORY_LIMIT}'")
            conn.begin()
            try:
                yield conn
            except BaseException:
                conn.rollback()
                raise
            conn.commit()

    @contextmanager
    def staging_directory(self, purpose: str) -> Iterator[Path]:
        """A private folder for data on its way in, removed (with its files) when the block ends.

        Beside the warehouse file, not in /tmp: on the disk meant for the data (a /tmp in
        memory would hold a busy hour in RAM after all). A process killed inside the block
        cannot remove its folder: the folder names its process, and the next one removes
        the folders of processes that are gone.
        """
        parent = Path(self.database).resolve().parent
        parent.mkdir(parents=True, exist_ok=True)
        prefix = f".{purpose}-staging-"
        for left in parent.glob(prefix + "*"):
            pid = left.name.removeprefix(prefix).split("-")[0]
            if pid.isdigit() and not psutil.pid_exists(int(pid)):
                shutil.rmtree(left, ignore_errors=True)
        with tempfile.TemporaryDirectory(prefix=f"{prefix}{os.getpid()}-", dir=parent) as directory:
            yield Path(directory)

    @contextmanager
    def _connection(self, read_only: bool) -> Iterator[duckdb.DuckDBPyConnection]:
        schema_missing = self._schema_missing()
        if schema_missing and read_only:
            self._ensure_schema()  # a read-only connection cannot create it
        elif schema_missing:
            Path(self.database).resolve().parent.mkdir(parents=True, exist_ok=True)
        # Pyarrow's pool keeps what it freed for reuse (the extraction's pages and Parquet
        # staging leave ~50 MB of it at 1,000,000 sales): give it back to the system before
        # DuckDB's working memory grows on top of it. Costs ~1 us.
        pa.default_memory_pool().release_unused()
        conn = self._connect(read_only)
        try:
            if schema_missing and not read_only:
                self._ensure_schema(conn)  # on the writer's own connection: one open, not two
            yield conn
        finally:
            # At once, even while an exception is alive: another process may be waiting
            # for the file.
            conn.close()

    def _connect(self, read_only: bool) -> duckdb.DuckDBPyConnection:
        config = {"custom_user_agent": "dagster", **self.connection_config}
        wait = FIRST_RETRY_WAIT_S
        for _ in range(CONNECT_RETRIES):
            try:
                return duckdb.connect(self.database, read_only=read_only, config=config)
            except (RuntimeError, duckdb.IOException):
                time.sleep(wait)
                wait *= 2
        return duckdb.connect(self.database, read_only=read_only, config=config)

    def _schema_missing(self) -> bool:
        key = str(Path(self.database).resolve())
        return key not in _schema_ready or not Path(key).exists()

    def _ensure_schema(self, conn: duckdb.DuckDBPyConnection | None = None) -> None:
        """The migrations, once per process and file: on `conn` (read-write), else on a connection of its own."""
        key = str(Path(self.database).resolve())
        with _schema_lock:
            if conn is None and key in _schema_ready and Path(key).exists():
                return
            Path(key).parent.mkdir(parents=True, exist_ok=True)
            target = conn if conn is not None else self._connect(read_only=False)
            try:
                migrate(target)
            finally:
                if conn is None:
                    target.close()
            _schema_ready.add(key)
