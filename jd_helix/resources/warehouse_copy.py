"""A consistent copy of the warehouse file, taken between two of the runs' writes.

DuckDB lets one process write a file and no other open it meanwhile, not even read-only;
runs hold the file only around each write (resources/warehouse.py). A read-only connection
therefore succeeds only between writes, and holds a shared lock that keeps every writer
out while it is open: for the length of a file copy, the file (and its write-ahead log)
cannot change. A run that wants the file meanwhile waits (its connection retries with
backoff) for as long as the copy takes.

Used by the API's read replica (api/replica.py) and by `jd-helix backup`.
"""

from __future__ import annotations

import shutil
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import duckdb


class WarehouseBusy(RuntimeError):
    """A run is writing the warehouse: try again in a moment (runs pause between writes)."""


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


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
    as of then). Raises WarehouseBusy while a run writes the file; leaves no partial copy.
    """
    try:
        # The read-only connection holds a shared lock: no run can write while we copy.
        lock = duckdb.connect(str(source), read_only=True)
    except duckdb.Error as error:
        raise WarehouseBusy(str(error).splitlines()[0]) from None
    try:
        copied_at = clock()
        copied_signature = signature(source)
        shutil.copyfile(source, target)
        if wal_of(source).exists():
            shutil.copyfile(wal_of(source), wal_of(target))
    except BaseException:
        for leftover in (target, wal_of(target)):
            leftover.unlink(missing_ok=True)
        raise
    finally:
        lock.close()
    return copied_signature, copied_at


def fold_wal(path: Path) -> None:
    """Open a copy for writing once, so that its copied WAL is folded into the file."""
    with duckdb.connect(str(path)) as conn:
        conn.execute("CHECKPOINT")
