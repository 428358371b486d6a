"""The API's read replica: a copy of the warehouse file, taken while no run is writing it.

DuckDB lets one process write a file, and no other process may open it meanwhile, not
even read-only. Runs hold the file only around each write (see resources/warehouse.py),
so between writes it is free. The keeper checks the file's size and modification time
every few seconds; when they changed, it takes a shared (read-only) lock on the file for
the length of a file copy, merges the copied write-ahead log into the copy and opens the
copy read-only. Requests read the newest copy; a copy that is replaced stays open until
its last request is done. A run that wants the file while the copy is taken waits (its
connection retries with backoff) for as long as the copy takes.

Freshness: a reader sees the warehouse as it was at `as_of`: the last instant the keeper
copied it, or found it unchanged since the copy. That is at most about one check interval
ago, unless runs write without a pause for longer than that.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from enum import StrEnum
from pathlib import Path
from typing import Callable, Iterator

import duckdb
import psutil

from jd_helix.api.page_cache import PageCache

log = logging.getLogger(__name__)
SNAPSHOT_PREFIX = "snapshot-"


class RefreshOutcome(StrEnum):
    COPIED = "copied"
    UNCHANGED = "unchanged"
    BUSY = "busy"  # a run is writing the warehouse: try again in a moment
    MISSING = "missing"  # no warehouse file yet: the pipeline has not run


class NoSnapshot(RuntimeError):
    """No copy of the warehouse could be taken yet."""


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class Snapshot:
    """One copy of the warehouse, open read-only; removed once replaced and no longer read."""

    path: Path
    conn: duckdb.DuckDBPyConnection
    as_of: datetime
    readers: int = 0
    retired: bool = False
    cache: PageCache = field(default_factory=PageCache)

    def close(self) -> None:
        self.conn.close()
        for leftover in (self.path, Path(f"{self.path}.wal")):
            leftover.unlink(missing_ok=True)


@dataclass
class RefreshState:
    last_attempt_at: datetime | None = None
    last_outcome: RefreshOutcome | None = None
    last_error: str | None = None
    copies: int = 0
    busy_since: datetime | None = field(default=None)


def _signature(path: Path) -> tuple | None:
    """What changes whenever a run commits: size and mtime of the file and of its WAL."""
    stats = []
    for part in (path, Path(f"{path}.wal")):
        try:
            st = part.stat()
        except FileNotFoundError:
            stats.append(None)
            continue
        stats.append((st.st_size, st.st_mtime_ns))
    return None if stats[0] is None else tuple(stats)


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
        directory.mkdir(parents=True, exist_ok=True)
        self._remove_orphans()

    # -- readers ---------------------------------------------------------------------

    @contextmanager
    def reader(self) -> Iterator[tuple[Snapshot, duckdb.DuckDBPyConnection]]:
        """The newest snapshot and a cursor of its own (DuckDB cursors are per thread)."""
        with self._lock:
            snapshot = self._current
            if snapshot is None:
                raise NoSnapshot(self._why_no_snapshot())
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

    def _why_no_snapshot(self) -> str:
        if self.state.last_outcome is RefreshOutcome.MISSING:
            return f"The warehouse {self.source} does not exist yet: run the pipeline first."
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
        signature = _signature(self.source)
        if signature is None:
            return RefreshOutcome.MISSING
        if signature == self._copied_signature and self._current is not None:
            # Nothing was committed since the copy: it is the warehouse as of now.
            self._current.as_of = self.clock()
            return RefreshOutcome.UNCHANGED
        self._generation += 1
        target = self.directory / f"{SNAPSHOT_PREFIX}{os.getpid()}-{self._generation}.duckdb"
        try:
            # The read-only connection holds a shared lock: no run can write while we copy.
            source = duckdb.connect(str(self.source), read_only=True)
        except duckdb.Error as error:
            self.state.last_error = str(error).splitlines()[0]
            return RefreshOutcome.BUSY
        try:
            try:
                as_of = self.clock()
                signature = _signature(self.source)
                shutil.copyfile(self.source, target)
                wal = Path(f"{self.source}.wal")
                if wal.exists():
                    shutil.copyfile(wal, f"{target}.wal")
            finally:
                source.close()
            self._install(target, as_of)
        except BaseException:
            for leftover in (target, Path(f"{target}.wal")):
                leftover.unlink(missing_ok=True)
            raise
        self._copied_signature = signature
        self.state.copies += 1
        self.state.last_error = None
        return RefreshOutcome.COPIED

    def _install(self, path: Path, as_of: datetime) -> None:
        # Opening the copy for writing once folds its WAL in; readers then get a plain file.
        with duckdb.connect(str(path)) as conn:
            conn.execute("CHECKPOINT")
        snapshot = Snapshot(path=path, conn=duckdb.connect(str(path), read_only=True), as_of=as_of)
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
        try:
            self.directory.rmdir()
        except OSError:
            pass

    def _remove_orphans(self) -> None:
        """Copies left by an API process that died (their pid is gone)."""
        for leftover in self.directory.glob(f"{SNAPSHOT_PREFIX}*"):
            pid = leftover.name[len(SNAPSHOT_PREFIX):].split("-")[0]
            if pid.isdigit() and not psutil.pid_exists(int(pid)):
                leftover.unlink(missing_ok=True)

