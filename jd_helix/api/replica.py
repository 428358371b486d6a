"""The API's read replica: a copy of the warehouse file, taken while no run is writing it.

DuckDB lets one process write a file, and no other process may open it meanwhile, not
even read-only. Runs hold the file only around each write (see resources/warehouse.py),
so between writes it is free. The keeper checks the file's size and modification time
every few seconds; when they changed, it takes a shared (read-only) lock on the file for
the length of a file copy, merges the copied write-ahead log into the copy and opens the
copy read-only. Requests read the newest copy; a copy that is replaced stays open until
its last request is done. A run that wants the file while the copy is taken waits (its
connection retries with backoff) for as long as the copy takes.

The copies are the warehouse's data: the folder is made 0700 and each copy 0600, whatever
the warehouse's own mode and the process' umask.

Freshness: a reader sees the warehouse as it was at `as_of`: the last instant the keeper
copied it, or found it unchanged since the copy. That is at most about one check interval
ago, unless runs write without a pause for longer than that.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path

import duckdb
import psutil

from jd_helix.api.page_cache import PageCache
from jd_helix.resources.warehouse_copy import (
    READ_CONFIG,
    WarehouseBusy,
    WarehouseInvalid,
    copy_between_writes,
    fold_wal,
    utc_now,
    wal_of,
)
from jd_helix.resources.warehouse_copy import signature as warehouse_signature

log = logging.getLogger(__name__)
SNAPSHOT_PREFIX = "snapshot-"


class RefreshOutcome(StrEnum):
    COPIED = "copied"
    UNCHANGED = "unchanged"
    BUSY = "busy"  # a run is writing the warehouse: try again in a moment
    MISSING = "missing"  # no warehouse file yet: the pipeline has not run
    INVALID = "invalid"  # the file is not a DuckDB database


# The tables the reports read (queries.py); a warehouse without one of them cannot answer.
REPORT_TABLES = (
    "jd_transactions",
    "transaction_camera_events",
    "helix_events",
    "helix_event_type",  # /v1/transactions: each event type's name and declared order
    "helix_destination",
    "store_sales",
    "jd_stores",
    "jd_rejected_records",
)
_PRIVATE_DIR = 0o700


class NoSnapshot(RuntimeError):
    """No copy of the warehouse could be taken yet."""


@dataclass
class Snapshot:
    """One copy of the warehouse, open read-only; removed once replaced and no longer read."""

    path: Path
    conn: duckdb.DuckDBPyConnection
    as_of: datetime
    missing_tables: tuple[str, ...] = ()
    readers: int = 0
    retired: bool = False
    cache: PageCache = field(default_factory=PageCache)

    def close(self) -> None:
        self.conn.close()
        for leftover in (self.path, wal_of(self.path)):
            leftover.unlink(missing_ok=True)


@dataclass
class RefreshState:
    last_attempt_at: datetime | None = None
    last_outcome: RefreshOutcome | None = None
    last_error: str | None = None
    copies: int = 0
    busy_since: datetime | None = field(default=None)


def _missing_tables(conn: duckdb.DuckDBPyConnection) -> tuple[str, ...]:
    present = {name for (name,) in conn.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    return tuple(table for table in REPORT_TABLES if table not in present)


class ReplicaKeeper:
    """Keeps a fresh read-only copy of `source` in `directory` and lends it to readers."""

    def __init__(self, source: str, directory: Path, clock: Callable[[], datetime] = utc_now):
        self.source = Path(source)
        self.directory = directory
        self.clock = clock
        self.state = RefreshState()
        self._current: Snapshot | None = None
        self._copied_signature: tuple | None = None
        self._generation = 0
        self._lock = threading.Lock()
        directory.mkdir(mode=_PRIVATE_DIR, parents=True, exist_ok=True)
        directory.chmod(_PRIVATE_DIR)  # also a folder an older release left 0755
        self._remove_orphans()

    # -- readers ---------------------------------------------------------------------

    @contextmanager
    def reader(self) -> Iterator[tuple[Snapshot, duckdb.DuckDBPyConnection]]:
        """The newest snapshot and a cursor of its own (DuckDB cursors are per thread)."""
        with self._lock:
            snapshot = self._current
            if snapshot is None:
                raise NoSnapshot(self.why_no_snapshot())
            snapshot.readers += 1
        cursor = snapshot.conn.cursor()
        try:
            yield snapshot, cursor
        finally:
            cursor.close()
            with self._lock:
                snapshot.readers -= 1
                done = snapshot.retired and snapshot.readers == 0
            if done:
                snapshot.close()

    @property
    def as_of(self) -> datetime | None:
        snapshot = self._current
        return snapshot.as_of if snapshot else None

    @property
    def missing_tables(self) -> tuple[str, ...]:
        snapshot = self._current
        return snapshot.missing_tables if snapshot else ()

    def why_no_snapshot(self) -> str:
        # Clients see this: the file's name, never the server's path to it.
        if self.state.last_outcome is RefreshOutcome.MISSING:
            return f"The warehouse {self.source.name} does not exist yet: run the pipeline first."
        if self.state.last_outcome is RefreshOutcome.INVALID:
            return f"The warehouse {self.source.name} is not a DuckDB database: check the server's --database."
        if self.state.last_outcome is RefreshOutcome.BUSY:
            return "A run has been writing the warehouse since the API started; the first copy is taken when it pauses."
        return "The first copy of the warehouse is being taken."

    # -- refreshing ------------------------------------------------------------------

    def refresh(self) -> RefreshOutcome:
        """Take a new copy if the warehouse changed since the last one and is not being written."""
        outcome = self._refresh()
        now = self.clock()
        self.state.last_attempt_at = now
        self.state.last_outcome = outcome
        if outcome is RefreshOutcome.BUSY:
            self.state.busy_since = self.state.busy_since or now
        else:
            self.state.busy_since = None
        return outcome

    def _refresh(self) -> RefreshOutcome:
        signature = warehouse_signature(self.source)
        if signature is None:
            return RefreshOutcome.MISSING
        if signature == self._copied_signature and self._current is not None:
            # Nothing was committed since the copy: it is the warehouse as of now.
            self._current.as_of = self.clock()
            return RefreshOutcome.UNCHANGED
        self._generation += 1
        target = self.directory / f"{SNAPSHOT_PREFIX}{os.getpid()}-{self._generation}.duckdb"
        try:
            # A missing `store_sales` table must not read queries.store_sales (READ_CONFIG).
            signature, as_of = copy_between_writes(self.source, target, self.clock)
        except (WarehouseBusy, WarehouseInvalid) as error:
            self.state.last_error = str(error)
            return RefreshOutcome.BUSY if isinstance(error, WarehouseBusy) else RefreshOutcome.INVALID
        try:
            self._install(target, as_of)
        except BaseException:
            for leftover in (target, wal_of(target)):
                leftover.unlink(missing_ok=True)
            raise
        self._copied_signature = signature
        self.state.copies += 1
        self.state.last_error = None
        return RefreshOutcome.COPIED

    def _install(self, path: Path, as_of: datetime) -> None:
        # Opening the copy for writing once folds its WAL in; readers then get a plain file.
        fold_wal(path)
        reader = duckdb.connect(str(path), read_only=True, config=READ_CONFIG)
        snapshot = Snapshot(path=path, conn=reader, as_of=as_of, missing_tables=_missing_tables(reader))
        if snapshot.missing_tables:
            log.warning(
                "The warehouse has none of these tables the reports read: %s", ", ".join(snapshot.missing_tables)
            )
        with self._lock:
            previous, self._current = self._current, snapshot
            if previous is not None:
                previous.retired = True
                done = previous.readers == 0
        if previous is not None and done:
            previous.close()

    def run(self, stop: threading.Event, interval_s: float, busy_retry_s: float) -> None:
        """Refresh until `stop` is set: every `interval_s`, or sooner while a run holds the file."""
        while not stop.is_set():
            try:
                outcome = self.refresh()
            except Exception:  # a bad copy must not end the refresher; the old snapshot serves on
                log.exception("Could not refresh the API's copy of the warehouse")
                outcome = RefreshOutcome.BUSY
            # While a run holds the file, try again soon: runs pause between writes.
            stop.wait(busy_retry_s if outcome is RefreshOutcome.BUSY else interval_s)

    def close(self) -> None:
        with self._lock:
            snapshot, self._current = self._current, None
        if snapshot is not None:
            snapshot.retired = True
            if snapshot.readers == 0:
                snapshot.close()
        # The folder goes too, unless something else is in it (a copy still being read).
        with suppress(OSError):
            self.directory.rmdir()

    def _remove_orphans(self) -> None:
        """Copies left by an API process that died (their pid is gone)."""
        for leftover in self.directory.glob(f"{SNAPSHOT_PREFIX}*"):
            pid = leftover.name[len(SNAPSHOT_PREFIX) :].split("-")[0]
            if pid.isdigit() and not psutil.pid_exists(int(pid)):
                leftover.unlink(missing_ok=True)
