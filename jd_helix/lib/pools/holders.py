"""Who holds (or queues for) a pool slot, whether they still can use it, and releasing them.

Dagster gives a slot back when the step that claimed it ends. A run worker that is killed
(OOM, deploy, SIGKILL) never does: its slots stay taken until someone frees them. Dagster's
daemon frees the slots of runs it knows have ended (`run_monitoring.free_slots_after_run_end_seconds`
in dagster.yaml); a run whose worker died while nobody was watching stays STARTED and is
found here instead, from the worker tag every run of this project carries and the
heartbeat its worker keeps in the instance (heartbeat.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import dagster as dg

from jd_helix.lib.pools.heartbeat import forget, last_heartbeat
from jd_helix.lib.pools.worker import WORKER_TAG, Liveness, liveness

FREE_SLOTS_COMMAND = "jd-helix free-slots"


@dataclass(frozen=True)
class Holder:
    run_id: str
    status: str  # the run's Dagster status, or "DELETED"
    worker: str | None  # host:pid:start of its worker, when known
    liveness: Liveness  # ALIVE, DEAD (ended, deleted, process gone or heartbeat stale) or UNKNOWN

    @property
    def releasable(self) -> bool:
        return self.liveness == Liveness.DEAD

    def describe(self) -> str:
        where = f"worker {self.worker}" if self.worker else "no worker recorded"
        return f"run {self.run_id} ({self.status}, {where})"


def judge(instance: dg.DagsterInstance, run_id: str) -> Holder:
    run = instance.get_run_by_id(run_id)
    if run is None:
        return Holder(run_id, "DELETED", None, Liveness.DEAD)
    worker = run.tags.get(WORKER_TAG)
    if run.is_finished:
        return Holder(run_id, run.status.value, worker, Liveness.DEAD)
    return Holder(run_id, run.status.value, worker, liveness(worker, last_heartbeat(instance, run_id)))


def holders(instance: dg.DagsterInstance, pool: str, exclude_run_id: str | None = None) -> list[Holder]:
    """Runs holding a slot of `pool` or queued for one (a queued step of a dead run would be
    handed the next free slot and never take it)."""
    info = instance.event_log_storage.get_concurrency_info(pool)
    run_ids = {slot.run_id for slot in info.claimed_slots} | {step.run_id for step in info.pending_steps}
    return [judge(instance, run_id) for run_id in sorted(run_ids - {exclude_run_id})]


def all_holders(instance: dg.DagsterInstance) -> list[Holder]:
    return [judge(instance, run_id) for run_id in sorted(instance.event_log_storage.get_concurrency_run_ids())]


def release(instance: dg.DagsterInstance, holder: Holder, why: str) -> None:
    """Mark the run failed (if it is not finished) and give its slots back.

    Failing it lets run retries resume its work (dagster.yaml `run_retries`).
    """
    run = instance.get_run_by_id(holder.run_id)
    if run is not None and not run.is_finished:
        instance.report_engine_event(why, run)
        instance.report_run_failed(run, why)
    instance.event_log_storage.free_concurrency_slots_for_run(holder.run_id)
    forget(instance, holder.run_id)


def free_slots_hint(instance: dg.DagsterInstance, run_id: str) -> str:
    return f"DAGSTER_HOME={instance.root_directory} {FREE_SLOTS_COMMAND} {run_id}"


def cannot_check_message(instance: dg.DagsterInstance, pool: str, step_key: str, holder: Holder) -> str:
    """The one line a waiting step prints about a holder it cannot check."""
    return (
        f"Step {step_key} waits for pool {pool}, held by {holder.describe()}, whose worker this "
        f"process cannot check. If that run is dead, free its slots: {free_slots_hint(instance, holder.run_id)}"
    )
