"""Who runs a run: host, process id and that process's start time, kept as a run tag.

The start time tells a live worker from another process that was given the same pid
after the worker died. A worker on another host is judged by its heartbeat instead
(`heartbeat.py`).
"""

from __future__ import annotations

import os
import socket
import time
from enum import Enum

import psutil

from jd_helix.lib.pools.heartbeat import HEARTBEAT_STALE_S

# Under Dagster's hidden prefix (".dagster/"): the UI leaves it out of the run list, whose
# first tag is then what a person looks for (the hours, the backfill), not a process id.
WORKER_TAG = ".dagster/jd_helix_run_worker"


class Liveness(Enum):
    ALIVE = "alive"
    DEAD = "dead"
    UNKNOWN = "unknown"  # another machine without a heartbeat (or no record): this process cannot check


def _start_time(pid: int) -> float | None:
    """When the process started, or None if it is gone (a killed, unreaped zombie is gone)."""
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return None
        return process.create_time()
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        return None


def this_worker() -> str:
    """`host:pid:start` of the calling process, the value of WORKER_TAG."""
    pid = os.getpid()
    return f"{socket.gethostname()}:{pid}:{_start_time(pid):.2f}"


def liveness(
    worker: str | None, heartbeat_at: float | None = None, stale_after_s: float = HEARTBEAT_STALE_S
) -> Liveness:
    """Whether the process a WORKER_TAG value names is still running.

    On this host, its pid and start time say so at once. On another host (a replaced
    container, another pod), its heartbeat does: beating within `stale_after_s` is alive,
    older is gone; with no heartbeat this process cannot tell.
    """
    if not worker:
        return Liveness.UNKNOWN
    try:
        host, pid_text, start_text = worker.rsplit(":", 2)
        pid, start = int(pid_text), float(start_text)
    except ValueError:
        return Liveness.UNKNOWN
    if host != socket.gethostname():
        if heartbeat_at is None:
            return Liveness.UNKNOWN
        return Liveness.ALIVE if time.time() - heartbeat_at < stale_after_s else Liveness.DEAD
    started = _start_time(pid)
    if started is None or f"{started:.2f}" != f"{start:.2f}":
        return Liveness.DEAD
    return Liveness.ALIVE
