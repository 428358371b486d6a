"""Who runs a run: host, process id and that process's start time, kept as a run tag.

The start time tells a live worker from another process that was given the same pid
after the worker died.
"""

from __future__ import annotations

import os
import socket
from enum import Enum

import psutil

# Under Dagster's hidden prefix (".dagster/"): the UI leaves it out of the run list, whose
# first tag is then what a person looks for (the hours, the backfill), not a process id.
WORKER_TAG = ".dagster/jd_helix_run_worker"


class Liveness(Enum):
    ALIVE = "alive"
    DEAD = "dead"
    UNKNOWN = "unknown"  # another machine (or no record): this process cannot check


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


def liveness(worker: str | None) -> Liveness:
    """Whether the process a WORKER_TAG value names is still running."""
    if not worker:
        return Liveness.UNKNOWN
    try:
        host, pid_text, start_text = worker.rsplit(":", 2)
        pid, start = int(pid_text), float(start_text)
    except ValueError:
        return Liveness.UNKNOWN
    if host != socket.gethostname():
        return Liveness.UNKNOWN
    started = _start_time(pid)
    if started is None or f"{started:.2f}" != f"{start:.2f}":
        return Liveness.DEAD
    return Liveness.ALIVE
