"""CPU spent by a run whose step waits for a pool slot held by another (live) run.

granularity op (as shipped): a temporary DAGSTER_HOME with the project's dagster.yaml; this
process registers a STARTED run that holds the only slot of pool `verkada_helix` (its worker
tag names this process, so it is alive); then `dagster job execute` runs a one-step job in
that pool, first on Dagster's own in_process executor, then on the project's executor. Once
the step has reported that it is blocked, the CPU seconds (user + system) of the `dagster job
execute` process are read, --seconds later read again, and the process killed.

granularity run (Dagster's own, issue 27): the same dagster.yaml with `concurrency: pools:
granularity: run`; the STARTED run uses the pool (no slot is claimed at this granularity:
the queue counts in-progress runs per pool), and `dagster-daemon run` serves the queue. A
second run of the one-step job is launched through the queue (`dagster job launch`): is it
still QUEUED --seconds later, with no worker process, and what did the daemon spend meanwhile
(its process tree, against the same --seconds before the launch)? Then `dagster job execute`
of the same job while the pool is in use (it does not pass through the queue), and how long
the queued run takes to start once the holder has ended.

Run:  .venv/bin/python benchmarks/pool_wait.py --seconds 60
      .venv/bin/python benchmarks/pool_wait.py --seconds 60 --granularity run
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
from dagster._core.storage.dagster_run import DagsterRun, DagsterRunStatus, RunOpConcurrency

PROJECT_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _instance_yaml import write_instance_yaml  # noqa: E402

from jd_helix.lib.pools.worker import WORKER_TAG, this_worker  # noqa: E402

POOL = "verkada_helix"
JOBS = ["dagster_in_process", "jd_helix_executor"]
JOB_FILE = PROJECT_ROOT / "benchmarks" / "pool_wait_job.py"


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


def dagster_env(home: Path) -> dict[str, str]:
    return {**os.environ, "DAGSTER_HOME": str(home), "PYTHONPATH": str(PROJECT_ROOT)}


def measure(home: Path, job: str, seconds: float) -> float:
    command = [sys.executable, "-m", "dagster", "job", "execute", "-f", str(JOB_FILE), "-j", job]
    process = subprocess.Popen(command, env=dagster_env(home), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
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


def op_granularity(seconds: float) -> None:
    home = Path(tempfile.mkdtemp(prefix="pool_wait_"))
    try:
        shutil.copyfile(PROJECT_ROOT / "dagster.yaml", home / "dagster.yaml")
        with dg.DagsterInstance.from_config(str(home)) as instance:
            hold_the_slot(instance)
        figures = {job: measure(home, job, seconds) for job in JOBS}
    finally:
        shutil.rmtree(home, ignore_errors=True)
    print(f"granularity op: CPU seconds of a run blocked on pool {POOL} for {seconds:.0f} s:")
    for job, cpu in figures.items():
        print(f"  {job:20s} {cpu:7.2f} s CPU  ({100 * cpu / seconds:5.1f} % of a core)")
    base, ours = figures[JOBS[0]], figures[JOBS[1]]
    print(f"  ratio dagster_in_process / jd_helix_executor: {base / max(ours, 1e-9):.0f}x")


def use_the_pool(instance: dg.DagsterInstance) -> DagsterRun:
    """A STARTED run of this process that uses POOL, as the run queue sees one at granularity run."""
    run = DagsterRun(
        job_name="pool_user",
        run_id=str(uuid.uuid4()),
        status=DagsterRunStatus.STARTED,
        tags={WORKER_TAG: this_worker()},
        run_op_concurrency=RunOpConcurrency(
            root_key_counts={POOL: 1}, has_unconstrained_root_nodes=False, all_pools={POOL}
        ),
    )
    instance.add_run(run)
    return run


def tree_cpu(process: psutil.Process) -> float:
    """User + system CPU seconds of a process and its descendants alive now."""
    total = 0.0
    for member in [process, *process.children(recursive=True)]:
        try:
            total += sum(member.cpu_times()[:2])
        except psutil.NoSuchProcess:
            continue
    return total


def latest_run(instance: dg.DagsterInstance, job: str) -> DagsterRun | None:
    runs = instance.get_runs(filters=dg.RunsFilter(job_name=job), limit=1)
    return runs[0] if runs else None


def wait_until(what: str, check, timeout_s: float):
    deadline = time.monotonic() + timeout_s
    while not (value := check()):
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(0.25)
    return value


def run_granularity(seconds: float) -> None:
    job = JOBS[1]
    home = Path(tempfile.mkdtemp(prefix="pool_wait_run_"))
    daemon = None
    try:
        write_instance_yaml(PROJECT_ROOT / "dagster.yaml", home / "dagster.yaml", "run")
        workspace = home / "workspace.yaml"
        workspace.write_text(f"load_from:\n  - python_file: {JOB_FILE}\n")
        env = dagster_env(home)
        with dg.DagsterInstance.from_config(str(home)) as instance:
            holder = use_the_pool(instance)
            daemon = subprocess.Popen(
                [sys.executable, "-m", "dagster._daemon", "run", "-w", str(workspace)],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
            daemon_process = psutil.Process(daemon.pid)
            time.sleep(20)  # the daemon's threads and its code server up
            before = tree_cpu(daemon_process)
            time.sleep(seconds)
            idle_cpu = tree_cpu(daemon_process) - before

            launch = [sys.executable, "-m", "dagster", "job", "launch", "-w", str(workspace), "-j", job]
            # The pool is new to the instance: the queue creates its limit in the same pass
            # as it looks the pool up (before the creation), so this first run is not held.
            subprocess.run(launch, env=env, check=True, capture_output=True)
            first = wait_until("the launched run", lambda: latest_run(instance, job), 60)
            first_done = wait_until(
                "the first run to end", lambda: (r := instance.get_run_by_id(first.run_id)) and r.is_finished and r, 180
            )
            subprocess.run(launch, env=env, check=True, capture_output=True)
            queued = wait_until(
                "the second launched run",
                lambda: (r := latest_run(instance, job)) and r.run_id != first.run_id and r,
                60,
            )
            before = tree_cpu(daemon_process)
            time.sleep(seconds)
            queued_cpu = tree_cpu(daemon_process) - before
            still = instance.get_run_by_id(queued.run_id)
            assert still is not None
            worker = still.tags.get(WORKER_TAG)

            execute = [sys.executable, "-m", "dagster", "job", "execute", "-f", str(JOB_FILE), "-j", job]
            started = time.monotonic()
            executed = subprocess.run(execute, env=env, capture_output=True, text=True)
            execute_s = time.monotonic() - started
            holder_active = not instance.get_run_by_id(holder.run_id).is_finished  # pyright: ignore[reportOptionalMemberAccess]

            instance.report_run_failed(holder, "pool_wait.py: the holder ends")
            freed = time.monotonic()
            wait_until(
                "the queued run to start",
                lambda: instance.get_run_by_id(queued.run_id).status != DagsterRunStatus.QUEUED,  # pyright: ignore[reportOptionalMemberAccess]
                120,
            )
            dequeued_s = time.monotonic() - freed
            done = wait_until(
                "the queued run to end",
                lambda: (r := instance.get_run_by_id(queued.run_id)) and r.is_finished and r,
                180,
            )
            done_s = time.monotonic() - freed
    finally:
        if daemon is not None:
            os.killpg(daemon.pid, 9)
            daemon.wait()
        shutil.rmtree(home, ignore_errors=True)
    print(f"granularity run: runs of {job} launched through the queue while a STARTED run uses pool {POOL}:")
    print(f"  the first, while the pool was new to the instance: not held, ended {first_done.status.value}")
    print(f"  the second, {seconds:.0f} s after its launch:")
    print(f"    its status then: {still.status.value}; its worker: {worker or 'none (no process)'}")
    print(
        f"    the daemon's process tree: {queued_cpu:.2f} s CPU with it queued, {idle_cpu:.2f} s idle "
        f"(+{queued_cpu - idle_cpu:.2f} s, {100 * (queued_cpu - idle_cpu) / seconds:.1f} % of a core)"
    )
    print(
        f"  `dagster job execute` of the same job meanwhile: exit {executed.returncode} after {execute_s:.1f} s, "
        f"the pool's other run {'still in progress' if holder_active else 'ended'}: not limited"
    )
    print(
        f"  after the holder ended: the queued run started {dequeued_s:.1f} s later, ended {done.status.value} at {done_s:.1f} s"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--granularity", choices=("op", "run", "both"), default="both")
    args = parser.parse_args()
    if args.granularity in ("op", "both"):
        op_granularity(args.seconds)
    if args.granularity in ("run", "both"):
        run_granularity(args.seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
