"""A consistent copy of the warehouse file, taken between two of the runs' writes.

DuckDB lets one process write a file and no other open it meanwhile, not even read-only;
runs hold the file only around each write (resources/warehouse.py). A read-only connection
therefore succeeds only between writes, and holds a shared lock that keeps every writer
out while it is open: for the length of a file copy, the file (and its write-ahead log)
cannot change. A run that wants the file meanwhile waits (its connection retries with
backoff) for as long as the copy takes.

A copy is the warehouse's data: it is created readable by its owner only (0600), whatever
the warehouse's own mode and the process' umask. Connections here never resolve an unknown
table name to a Python object in scope (DuckDB's "replacement scan").

Used by the API's read replica (api/replica.py) and by `jd-helix backup`.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import duckdb

# Never let DuckDB read a missing table from a Python variable of the same name.
READ_CONFIG: dict[str, str | bool | int | float | list[str]] = {"python_enable_replacements": False}
PRIVATE_FILE_MODE = 0o600


class WarehouseBusy(RuntimeError):
    """A run is writing the warehouse: try again in a moment (runs pause between writes)."""


class WarehouseInvalid(RuntimeError):
    """The file is not a DuckDB database (or one DuckDB cannot open)."""


def utc_now() -> datetime:
    return datetime.now(UTC)


def wal_of(path: Path | str) -> Path:
    return Path(f"{path}.wal")


def signature(path: Path) -> tuple | None:
    """What changes whenever a run commits: size and mtime of the file and of its WAL
    (None if there is no file)."""
    stats = []
    for part in (path, wal_of(path)):
        try:
            st = part.stat()
        except FileNotFoundError:
            stats.append(None)
            continue
        stats.append((st.st_size, st.st_mtime_ns))
    return None if stats[0] is None else tuple(stats)


def copy_between_writes(
    source: Path, target: Path, clock: Callable[[], datetime] = utc_now
) -> tuple[tuple | None, datetime]:
    """Copy `source` (and its WAL, to `<target>.wal`) under a shared lock.

    Returns the source's signature and the instant of the copy (the data is the warehouse
    as of then). Raises WarehouseBusy while a run writes the file, WarehouseInvalid when it is
    not a database; leaves no partial copy.
    """
    try:
        # The read-only connection holds a shared lock: no run can write while we copy.
        lock = duckdb.connect(str(source), read_only=True, config=READ_CONFIG)
    except duckdb.Error as error:
        first_line = str(error).splitlines()[0]
        # DuckDB's lock, as opposed to a file it cannot read at all.
        raise (WarehouseBusy if "lock" in first_line.lower() else WarehouseInvalid)(first_line) from None
    try:
        copied_at = clock()
        copied_signature = signature(source)
        private_copy(source, target)
        if wal_of(source).exists():
            private_copy(wal_of(source), wal_of(target))
    except BaseException:
        for leftover in (target, wal_of(target)):
            leftover.unlink(missing_ok=True)
        raise
    finally:
        lock.close()
    return copied_signature, copied_at


def private_copy(source: Path, target: Path) -> None:
    """Copy `source` to a new file readable by this user only, from its first byte on."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
    with open(source, "rb") as reader, os.fdopen(os.open(target, flags, PRIVATE_FILE_MODE), "wb") as writer:
        shutil.copyfileobj(reader, writer, length=1024 * 1024)


def fold_wal(path: Path) -> None:
    """Open a copy for writing once, so that its copied WAL is folded into the file."""
    with duckdb.connect(str(path), config=READ_CONFIG) as conn:
        conn.execute("CHECKPOINT")
