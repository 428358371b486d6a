"""Where a backfill's time goes: each run's steps on one clock, and the CPU of run workers
while their steps wait for a pool slot.

`CpuSampler` reads, once a second, the CPU time (user + system) of every process under
`dagster dev` (run workers included). After the backfill, each run's waits come from its
event log: a wait starts at the step's first "Step blocked by limit for pool" event and ends
when the step starts; the worker's CPU between samples that fall inside a wait is the CPU
spent waiting. The worker's pid comes from the run's `jd_helix/run_worker` tag.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from itertools import pairwise
from typing import Any

import psutil

WORKER_TAG = "jd_helix/run_worker"
BLOCKED = "blocked by limit for pool"

RUN_EVENTS = """
query RunEvents($runId: ID!, $after: String) {
  logsForRun(runId: $runId, afterCursor: $after, limit: 5000) {
    __typename
    ... on EventConnection {
      cursor hasMore
      events { __typename ... on MessageEvent { message timestamp stepKey } }
    }
  }
}
"""


class CpuSampler:
    """CPU seconds of each process under `root_pid`, sampled every `interval_s`."""

    def __init__(self, root_pid: int, interval_s: float = 1.0):
        self.root_pid, self.interval_s = root_pid, interval_s
        self.samples: dict[int, list[tuple[float, float]]] = defaultdict(list)  # pid -> [(wall, cpu s)]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> CpuSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _loop(self) -> None:
        while not self._stop.is_set():
            now = time.time()
            try:
                processes = psutil.Process(self.root_pid).children(recursive=True)
            except psutil.Error:
                processes = []
            for process in processes:
                try:
                    cpu = process.cpu_times()
                    self.samples[process.pid].append((now, cpu.user + cpu.system))
                except psutil.Error:
                    continue
            self._stop.wait(self.interval_s)

    def cpu_between(self, pid: int, intervals: list[tuple[float, float]]) -> tuple[float, float]:
        """CPU seconds `pid` spent between consecutive samples lying inside one of `intervals`,
        and the wall seconds those samples cover."""
        spent = covered = 0.0
        for (t0, c0), (t1, c1) in pairwise(self.samples.get(pid, [])):
            if any(start <= t0 and t1 <= end for start, end in intervals):
                spent, covered = spent + c1 - c0, covered + t1 - t0
        return spent, covered

    def total_cpu(self, pid: int) -> float:
        points = self.samples.get(pid, [])
        return points[-1][1] - points[0][1] if len(points) > 1 else 0.0


def _message_events(client, run_id: str) -> list[dict[str, Any]]:
    events, after = [], None
    while True:
        result = client.query(RUN_EVENTS, {"runId": run_id, "after": after})["logsForRun"]
        if result["__typename"] != "EventConnection":
            return events
        events += [e for e in result["events"] if e.get("timestamp")]
        if not result["hasMore"]:
            return events
        after = result["cursor"]


def pool_waits(client, run_id: str, steps: list[dict[str, Any]]) -> list[tuple[str, float, float]]:
    """(step, from, to) of each step's wait for a pool slot, wall-clock seconds."""
    started = {s["stepKey"]: s["startTime"] for s in steps if s["startTime"]}
    first_blocked: dict[str, float] = {}
    for event in _message_events(client, run_id):
        if event.get("stepKey") and BLOCKED in (event.get("message") or ""):
            first_blocked.setdefault(event["stepKey"], int(event["timestamp"]) / 1000)
    return [(step, t, started[step]) for step, t in first_blocked.items() if step in started and started[step] > t]


PINNED, POSTED, OUTPUT = "events to post (", "Posted in ", "Yielded output"


def posting_phases(client, run_id: str, steps: list[dict[str, Any]]) -> dict[str, float] | None:
    """The helix_events step split at its own log lines: before the first request (step start,
    event type, pinning, outbox), the posting (until the last outcome is in the ledger), the
    rest of the asset's body (footage links, reading the per-hour figures), and Dagster
    storing the step's output and one materialization per hour; seconds."""
    step = next((s for s in steps if s["stepKey"] == "helix_events" and s["startTime"] and s["endTime"]), None)
    if step is None:
        return None
    marks: dict[str, float] = {}
    for event in _message_events(client, run_id):
        message = event.get("message") or ""
        if event.get("stepKey") == "helix_events":
            for name, text in (("pinned", PINNED), ("posted", POSTED), ("output", OUTPUT)):
                if text in message:
                    marks.setdefault(name, int(event["timestamp"]) / 1000)
    if len(marks) < 3:
        return None
    return {
        "before_posting_s": round(marks["pinned"] - step["startTime"], 1),
        "posting_s": round(marks["posted"] - marks["pinned"], 1),
        "figures_s": round(marks["output"] - marks["posted"], 1),
        "storing_materializations_s": round(step["endTime"] - marks["output"], 1),
    }


def idle_intervals(waits: list[tuple[float, float]], busy: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """The parts of `waits` (merged) that no interval of `busy` covers."""
    edges = sorted({t for interval in waits + busy for t in interval})
    return [
        (a, b)
        for a, b in pairwise(edges)
        if any(s <= a and b <= t for s, t in waits) and not any(s < b and a < t for s, t in busy)
    ]


def worker_pid(run: dict[str, Any]) -> int | None:
    tags = {t["key"]: t["value"] for t in run["tags"]}
    try:
        return int(tags[WORKER_TAG].rsplit(":", 2)[1])
    except (KeyError, IndexError, ValueError):
        return None


def timeline(
    client,
    runs: list[dict[str, Any]],
    launched_at: float,
    sampler: CpuSampler | None,
    steps_of: dict[str, list[dict[str, Any]]],
) -> dict[str, Any]:
    """Each run's start, end and steps (seconds after the launch), its pool waits and their CPU."""
    rows, wait_s, wait_cpu, sampled_s = [], 0.0, 0.0, 0.0
    for run in sorted(runs, key=lambda r: r["startTime"] or 1e18):
        steps = steps_of.get(run["runId"], [])
        waits = pool_waits(client, run["runId"], steps)
        pid = worker_pid(run)
        # Only while no other step of the run executes: a run's steps share its process.
        idle = idle_intervals(
            [(s, t) for _, s, t in waits],
            [(x["startTime"], x["endTime"]) for x in steps if x["startTime"] and x["endTime"]],
        )
        waited = sum(to - start for start, to in idle)
        cpu, covered = sampler.cpu_between(pid, idle) if sampler and pid else (None, 0.0)
        wait_s, wait_cpu, sampled_s = wait_s + waited, wait_cpu + (cpu or 0.0), sampled_s + covered
        at = lambda t: round(t - launched_at, 1) if t else None  # noqa: E731
        rows.append(
            {
                "run": run["runId"][:8],
                "created": at(run.get("creationTime")),
                "start": at(run["startTime"]),
                "end": at(run["endTime"]),
                "steps": {s["stepKey"]: [at(s["startTime"]), at(s["endTime"])] for s in steps if s["startTime"]},
                "pool_waits": [[step, at(start), at(to)] for step, start, to in waits],
                "waited_idle_s": round(waited, 1),
                "cpu_while_waiting_s": None if cpu is None else round(cpu, 2),
                "worker_cpu_s": round(sampler.total_cpu(pid), 1) if sampler and pid else None,
                "helix_events_phases": posting_phases(client, run["runId"], steps),
            }
        )
    phases = [row["helix_events_phases"] for row in rows if row["helix_events_phases"]]
    return {
        "runs": rows,
        "helix_events_phases_sum": {k: round(sum(p[k] for p in phases), 1) for k in (phases[0] if phases else {})},
        "pool_wait_s": round(wait_s, 1),
        "sampled_wait_s": round(sampled_s, 1),
        "cpu_while_waiting_s": round(wait_cpu, 2),
        "cpu_share_while_waiting": round(wait_cpu / sampled_s, 4) if sampled_s else None,
    }


def print_timeline(t: dict[str, Any]) -> None:
    print(
        f"  pool waits with no other step of the run running: {t['pool_wait_s']} run-seconds ({t['sampled_wait_s']} s between CPU samples), CPU while "
        f"waiting {t['cpu_while_waiting_s']} s ({(t['cpu_share_while_waiting'] or 0) * 100:.1f} % of a core)"
    )
    print(f"  helix_events steps, summed: {t.get('helix_events_phases_sum')}")
    for row in t["runs"]:
        steps = ", ".join(f"{k} {a}-{b}" for k, (a, b) in row["steps"].items())
        waits = ", ".join(f"{step} {a}-{b}" for step, a, b in row["pool_waits"])
        print(
            f"  run {row['run']}: created {row['created']} start {row['start']} end {row['end']}; "
            f"worker CPU {row['worker_cpu_s']} s; waited with no step running {row['waited_idle_s']} s (CPU {row['cpu_while_waiting_s']} s): "
            f"{waits or '-'}\n      steps: {steps}\n      helix_events: {row.get('helix_events_phases')}"
        )
