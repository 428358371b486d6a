"""A run worker's heartbeat, kept in the instance, so that any process can tell whether the
worker is alive - whatever machine or container it runs in.

The worker's own record (`worker.py`: host:pid:start) can only be checked on its own
machine. A redeploy replaces the code-location container, and in Kubernetes every run is a
pod of its own, so a waiting run often looks at a holder from another host. The heartbeat
covers that case: while its steps run, the worker writes the time into the instance's
key-value store every HEARTBEAT_INTERVAL_S; a worker whose last beat is older than
HEARTBEAT_STALE_S is gone. (A run tag would do, but Dagster rewrites a run's whole record
to change a tag, which could race with its status; the key-value store holds nothing else.)
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
from dagster._core.storage.runs.schema import KeyValueStoreTable
from dagster._core.storage.runs.sql_run_storage import SqlRunStorage

HEARTBEAT_KEY_PREFIX = "jd_helix/run_worker_heartbeat/"
HEARTBEAT_INTERVAL_S = 10.0
# Six beats missed: a worker that only stalls (a long DuckDB statement releases the GIL,
# so the beat thread keeps beating through it) is never taken for dead.
HEARTBEAT_STALE_S = 60.0


def heartbeat_key(run_id: str) -> str:
    return f"{HEARTBEAT_KEY_PREFIX}{run_id}"


def last_heartbeat(instance: dg.DagsterInstance, run_id: str) -> float | None:
    """When the run's worker last beat (epoch seconds), or None if it never did."""
    value = instance.run_storage.get_cursor_values({heartbeat_key(run_id)}).get(heartbeat_key(run_id))
    try:
        return float(value) if value else None
    except ValueError:
        return None


def beat(instance: dg.DagsterInstance, run_id: str) -> None:
    instance.run_storage.set_cursor_values({heartbeat_key(run_id): f"{time.time():.1f}"})


def forget(instance: dg.DagsterInstance, run_id: str) -> None:
    """Remove a run's heartbeat (its run has ended), so that the store does not grow."""
    storage = instance.run_storage
    if isinstance(storage, SqlRunStorage):
        with storage.connect() as conn:
            conn.execute(KeyValueStoreTable.delete().where(KeyValueStoreTable.c.key == heartbeat_key(run_id)))


@contextmanager
def beating(instance: dg.DagsterInstance, run_id: str, log) -> Iterator[None]:
    """Beat for `run_id` from a thread while the block runs; forget the beat at its end."""
    stop = threading.Event()

    def keep_beating() -> None:
        while not stop.wait(HEARTBEAT_INTERVAL_S):
            try:
                beat(instance, run_id)
            except Exception as error:  # noqa: BLE001 - a missed beat must never fail the run
                log.warning(f"Could not record the run worker's heartbeat: {type(error).__name__}: {error}")

    beat(instance, run_id)
    thread = threading.Thread(target=keep_beating, name="jd_helix-run-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        forget(instance, run_id)
