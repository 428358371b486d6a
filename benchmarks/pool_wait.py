"""CPU spent by a run whose step waits for a pool slot held by another (live) run.

A temporary DAGSTER_HOME with the project's dagster.yaml; this process registers a STARTED
run that holds the only slot of pool `verkada_helix` (its worker tag names this process, so
it is alive); then `dagster job execute` runs a one-step job in that pool, first on
Dagster's own in_process executor, then on the project's executor. Once the step has
reported that it is blocked, the CPU seconds (user + system) of the `dagster job execute`
process are read, --seconds later read again, and the process killed.

Run:  .venv/bin/python benchmarks/pool_wait.py --seconds 60
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import dagster as dg
import psutil
from dagster._core.storage.dagster_run import DagsterRun, DagsterRunStatus

PROJECT_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_ROOT))

from jd_helix.lib.pools.worker import WORKER_TAG, this_worker  # noqa: E402

POOL = "verkada_helix"
JOBS = ["dagster_in_process", "jd_helix_executor"]


def hold_the_slot(instance: dg.DagsterInstance) -> str:
    run_id = str(uuid.uuid4())
    instance.add_run(
        DagsterRun(
            job_name="slot_holder", run_id=run_id, status=DagsterRunStatus.STARTED, tags={WORKER_TAG: this_worker()}
        )
    )
    instance.event_log_storage.set_concurrency_slots(POOL, 1)
    claim = instance.event_log_storage.claim_concurrency_slot(POOL, run_id, "holder_step")
    assert claim.is_claimed, claim
    return run_id


def blocked(instance: dg.DagsterInstance, job: str) -> bool:
    runs = instance.get_runs(filters=dg.RunsFilter(job_name=job), limit=1)
    if not runs:
        return False
    logs = instance.all_logs(runs[0].run_id)
    return any("blocked" in (entry.message or "").lower() for entry in logs)


def measure(home: Path, job: str, seconds: float) -> float:
    env = {**os.environ, "DAGSTER_HOME": str(home), "PYTHONPATH": str(PROJECT_ROOT)}
    command = [
        sys.executable,
        "-m",
        "dagster",
        "job",
        "execute",
        "-f",
        str(PROJECT_ROOT / "benchmarks" / "pool_wait_job.py"),
        "-j",
        job,
    ]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        with dg.DagsterInstance.from_config(str(home)) as instance:
            deadline = time.monotonic() + 120
            while not blocked(instance, job):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"{job}: the step never reported it was blocked")
                time.sleep(0.5)
        worker = psutil.Process(process.pid)
        before = sum(worker.cpu_times()[:2])
        time.sleep(seconds)
        after = sum(worker.cpu_times()[:2])
        return after - before
    finally:
        process.kill()
        process.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="pool_wait_"))
    try:
        shutil.copyfile(PROJECT_ROOT / "dagster.yaml", home / "dagster.yaml")
        with dg.DagsterInstance.from_config(str(home)) as instance:
            hold_the_slot(instance)
        figures = {job: measure(home, job, args.seconds) for job in JOBS}
    finally:
        shutil.rmtree(home, ignore_errors=True)
    print(f"CPU seconds of a run blocked on pool {POOL} for {args.seconds:.0f} s:")
    for job, cpu in figures.items():
        print(f"  {job:20s} {cpu:7.2f} s CPU  ({100 * cpu / args.seconds:5.1f} % of a core)")
    base, ours = figures[JOBS[0]], figures[JOBS[1]]
    print(f"  ratio dagster_in_process / jd_helix_executor: {base / max(ours, 1e-9):.0f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
