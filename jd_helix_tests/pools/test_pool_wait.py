"""PoolWaitContext on a real (temporary, SQLite) instance: a refused claim is followed by a
sleep, not a busy loop; ended and dead holders are released; a holder on another machine
is named once."""

from __future__ import annotations

import socket
import time
import uuid

import dagster as dg
import pytest
import time_machine
from dagster._core.execution.plan.instance_concurrency_context import InstanceConcurrencyContext
from dagster._core.storage.dagster_run import DagsterRun, DagsterRunStatus

from jd_helix.lib.pools.waiting import PoolWaitContext
from jd_helix.lib.pools.worker import WORKER_TAG, this_worker

POOL = "verkada_helix"


class Log:
    def __init__(self):
        self.lines: list[str] = []

    def warning(self, line: str) -> None:
        self.lines.append(line)


@pytest.fixture(scope="module")
def shared_instance(tmp_path_factory):
    with dg.instance_for_test(temp_dir=str(tmp_path_factory.mktemp("instance"))) as instance:
        yield instance


@pytest.fixture
def instance(shared_instance):
    """The module's instance, its pool emptied of the last test's holders."""
    for run_id in shared_instance.event_log_storage.get_concurrency_run_ids():
        shared_instance.event_log_storage.free_concurrency_slots_for_run(run_id)
    shared_instance.event_log_storage.set_concurrency_slots(POOL, 1)
    return shared_instance


def add_run(instance, status: DagsterRunStatus, worker: str | None) -> str:
    run_id = str(uuid.uuid4())
    instance.add_run(
        DagsterRun(job_name="j", run_id=run_id, status=status, tags={WORKER_TAG: worker} if worker else {})
    )
    return run_id


def hold(instance, status: DagsterRunStatus, worker: str | None) -> str:
    run_id = add_run(instance, status, worker)
    assert instance.event_log_storage.claim_concurrency_slot(POOL, run_id, "held_step").is_claimed
    return run_id


def waiting(instance, log: Log) -> PoolWaitContext:
    return PoolWaitContext(
        instance, instance.get_run_by_id(add_run(instance, DagsterRunStatus.STARTED, this_worker())), log
    )


def test_a_refused_claim_sleeps_until_the_next_check_where_dagster_would_spin(instance):
    hold(instance, DagsterRunStatus.STARTED, this_worker())  # alive: this very process
    log = Log()
    # The clock stands still: what the claim schedules is measured, not how long it took (a
    # busy machine can spend the whole interval in the claim and its holder check).
    with time_machine.travel(time.time(), tick=False), waiting(instance, log) as context:
        assert not context.claim(POOL, "step")
        assert context.interval_to_next_pending_claim_check() > 0.5
    run = instance.get_run_by_id(add_run(instance, DagsterRunStatus.STARTED, this_worker()))
    with InstanceConcurrencyContext(instance, run) as dagsters:
        assert not dagsters.claim(POOL, "step")
        assert dagsters.interval_to_next_pending_claim_check() == 0, "Dagster 1.13's loop never sleeps"
    assert log.lines == [], "a live holder is left alone"


@pytest.mark.parametrize(
    "status, worker",
    [
        (DagsterRunStatus.FAILURE, this_worker()),  # ended without giving its slot back
        (DagsterRunStatus.STARTED, f"{socket.gethostname()}:999999:1.00"),  # its process is gone
    ],
    ids=["ended", "process-gone"],  # the worker tag holds a pid and a time: no id of its own
)
def test_a_holder_that_is_no_longer_running_is_failed_and_freed(instance, status, worker):
    holder = hold(instance, status, worker)
    log = Log()
    with waiting(instance, log) as context:
        assert not context.claim(POOL, "step")
        assert context.claim(POOL, "step"), "asked again at once, and granted"
    assert instance.get_run_by_id(holder).status == DagsterRunStatus.FAILURE
    assert log.lines == [
        f"Freed the {POOL} slots of run {holder} ({status.value}, worker {worker}): it is no longer running."
    ]


def test_a_holder_on_another_machine_is_named_once_and_kept(instance, monkeypatch):
    monkeypatch.setattr("jd_helix.lib.pools.waiting.HOLDER_CHECK_S", 0.0)
    holder = hold(instance, DagsterRunStatus.STARTED, "elsewhere:12:1.00")
    log = Log()
    with waiting(instance, log) as context:
        for _ in range(3):
            context._pending_timeouts["step"] = 0.0  # as if each backoff had passed
            assert not context.claim(POOL, "step")
    assert len(log.lines) == 1 and f"jd-helix free-slots {holder}" in log.lines[0] and "elsewhere:12" in log.lines[0]
    assert instance.get_run_by_id(holder).status == DagsterRunStatus.STARTED
