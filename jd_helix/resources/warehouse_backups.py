"""Backups of the warehouse: consistent copies taken while runs write, kept in a folder with
a retention, and a restore that puts one back in place of the warehouse.

A backup is taken between two of the runs' writes, like the API's replica
(resources/warehouse_copy.py): a shared lock for the length of a file copy, then the copied
write-ahead log is folded into the copy, which is checked to open and hold the ledger before
it gets its final name (`jd_helix-<UTC time>.duckdb`). A folder never holds a half-written
backup under that name, so the newest one is always whole.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import psutil

from jd_helix.resources.warehouse_copy import WarehouseBusy, copy_between_writes, fold_wal, utc_now, wal_of

BACKUP_PREFIX = "jd_helix-"
BACKUP_SUFFIX = ".duckdb"
STAMP = "%Y%m%dT%H%M%SZ"
PARTIAL_PREFIX = ".partial-"
BUSY_RETRY_S = 0.5
# Tables without which a file is not a jd_helix warehouse.
REQUIRED_TABLES = ("helix_events", "jd_transactions")


class BackupError(RuntimeError):
    """A backup or restore that could not be done; the message says why and what to do."""


@dataclass(frozen=True)
class WarehouseSummary:
    ledger_rows: int
    last_sale_hour: datetime | None  # naive UTC, as stored

    def describe(self) -> str:
        hour = f"{self.last_sale_hour:%Y-%m-%d %H:00} UTC" if self.last_sale_hour else "none"
        return f"{self.ledger_rows} ledger rows, last sales hour {hour}"


def default_backup_dir(database: Path) -> Path:
    return database.parent / "backups"


def backup_name(taken_at: datetime) -> str:
    return f"{BACKUP_PREFIX}{taken_at.astimezone(UTC):{STAMP}}{BACKUP_SUFFIX}"


def taken_at(backup: Path) -> datetime | None:
    """When a backup was taken, from its name; None for a file that is not one of ours."""
    stamp = backup.name.removeprefix(BACKUP_PREFIX).removesuffix(BACKUP_SUFFIX)
    if not (backup.name.startswith(BACKUP_PREFIX) and backup.name.endswith(BACKUP_SUFFIX)):
        return None
    try:
        return datetime.strptime(stamp, STAMP).replace(tzinfo=UTC)
    except ValueError:
        return None


def list_backups(directory: Path) -> list[Path]:
    """The backups in `directory`, oldest first."""
    if not directory.is_dir():
        return []
    found = [(when, path) for path in directory.iterdir() if (when := taken_at(path)) is not None]
    return [path for _, path in sorted(found)]


def summarize(path: Path) -> WarehouseSummary:
    """What a warehouse file holds; BackupError if it does not open or is not a jd_helix warehouse."""
    try:
        with duckdb.connect(str(path), read_only=True) as conn:
            tables = {name for (name,) in conn.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
            missing = [table for table in REQUIRED_TABLES if table not in tables]
            if missing:
                raise BackupError(f"{path} is not a jd_helix warehouse: it has no table {', '.join(missing)}")
            [(rows,)] = conn.execute("SELECT count(*) FROM helix_events").fetchall()
            [(last_hour,)] = conn.execute("SELECT max(sale_hour) FROM jd_transactions").fetchall()
    except duckdb.Error as error:
        raise BackupError(f"{path} does not open as a DuckDB database: {str(error).splitlines()[0]}") from None
    return WarehouseSummary(ledger_rows=rows, last_sale_hour=last_hour)


def take_backup(database: Path, directory: Path, wait_s: float, now=utc_now) -> Path:
    """Copy the warehouse into `directory` between two writes; wait up to `wait_s` for a pause."""
    if not database.exists():
        raise BackupError(
            f"There is no warehouse at {database} (JD_HELIX_DUCKDB_PATH / --database): nothing to back up."
        )
    directory.mkdir(parents=True, exist_ok=True)
    _remove_partials(directory)
    partial = directory / f"{PARTIAL_PREFIX}{os.getpid()}{BACKUP_SUFFIX}"
    deadline = time.monotonic() + wait_s
    while True:
        try:
            _, copied_at = copy_between_writes(database, partial, now)
            break
        except WarehouseBusy as busy:
            if time.monotonic() >= deadline:
                raise BackupError(
                    f"Runs kept writing {database} for {wait_s:.0f} s without a pause ({busy}); "
                    "try again, or with a longer --wait."
                ) from None
            time.sleep(BUSY_RETRY_S)
    try:
        fold_wal(partial)
        summarize(partial)
        final = directory / backup_name(copied_at)
        os.replace(partial, final)
    finally:
        for leftover in (partial, wal_of(partial)):
            leftover.unlink(missing_ok=True)
    return final


def prune(directory: Path, keep: int) -> list[Path]:
    """Remove all but the `keep` newest backups; returns those removed."""
    if keep < 1:
        raise BackupError("--keep must be at least 1: the newest backup is never removed.")
    backups = list_backups(directory)
    removed = backups[: max(0, len(backups) - keep)]
    for path in removed:
        path.unlink()
    return removed


def restore_backup(backup: Path, database: Path, now=utc_now) -> Path | None:
    """Put `backup` in place of the warehouse; the warehouse it replaces is kept beside it.

    Refuses while any process has the warehouse open. Returns where the replaced warehouse
    was moved (None if there was none).
    """
    summarize(backup)  # a file that is not a whole warehouse is refused before anything moves
    aside = None
    if database.exists():
        _refuse_if_open(database)
        aside = database.with_name(f"{database.name}.before-restore-{now().astimezone(UTC):{STAMP}}")
        os.replace(database, aside)
        if wal_of(database).exists():
            os.replace(wal_of(database), wal_of(aside))
    database.parent.mkdir(parents=True, exist_ok=True)
    incoming = database.with_name(f"{PARTIAL_PREFIX}{database.name}")
    try:
        shutil.copyfile(backup, incoming)
        os.replace(incoming, database)
    finally:
        incoming.unlink(missing_ok=True)
    return aside


def _refuse_if_open(database: Path) -> None:
    """An exclusive (read-write) open is refused with a lock error while another process has
    the file open. A file that does not open for another reason (a broken one, the usual
    reason to restore) is moved aside like any other."""
    try:
        duckdb.connect(str(database)).close()
    except duckdb.Error as error:
        if "lock" not in str(error).lower():
            return
        raise BackupError(
            f"{database} is in use ({str(error).splitlines()[0]}). Stop the code location, the daemon "
            'and the HTTP API first (deploy/README.md, "Restoring the warehouse"), then restore.'
        ) from None


def _remove_partials(directory: Path) -> None:
    """Copies left by a backup that was killed (their process is gone)."""
    for leftover in directory.glob(f"{PARTIAL_PREFIX}*"):
        pid = leftover.name.removeprefix(PARTIAL_PREFIX).split(".")[0]
        if pid.isdigit() and int(pid) != os.getpid() and not psutil.pid_exists(int(pid)):
            leftover.unlink(missing_ok=True)
