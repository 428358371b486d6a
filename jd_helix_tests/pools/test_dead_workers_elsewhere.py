"""A run worker on another host (a replaced code-location container, another pod) is judged by
its heartbeat in the instance: beating is alive, silent for HEARTBEAT_STALE_S is gone; and the
`fail_dead_runs` sensor fails and frees started runs whose worker is gone, with nobody waiting."""

from __future__ import annotations

import socket
import time
import uuid

import dagster as dg
import pytest
from dagster._core.storage.dagster_run import DagsterRun, DagsterRunStatus

from jd_helix.defs.runs.dead_runs import fail_dead_runs
from jd_helix.lib.pools import holders as pool_holders
from jd_helix.lib.pools.heartbeat import HEARTBEAT_STALE_S, beating, heartbeat_key, last_heartbeat
from jd_helix.lib.pools.worker import WORKER_TAG, Liveness, this_worker

POOL = "duckdb_writer"
ELSEWHERE = "replaced-container:7:1700000000.00"


class Log:
    def __init__(self):
        self.lines: list[str] = []

    def warning(self, line: str) -> None:
        self.lines.append(line)


@pytest.fixture
def instance(tmp_path):
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        instance.event_log_storage.set_concurrency_slots(POOL, 1)
        yield instance


def started_run(instance, worker: str, heartbeat_age_s: float | None, holds_slot: bool = True) -> str:
    run_id = str(uuid.uuid4())
    instance.add_run(
        DagsterRun(
            job_name="hourly_sales_job", run_id=run_id, status=DagsterRunStatus.STARTED, tags={WORKER_TAG: worker}
        )
    )
    if heartbeat_age_s is not None:
        instance.run_storage.set_cursor_values({heartbeat_key(run_id): f"{time.time() - heartbeat_age_s:.1f}"})
    if holds_slot:
        assert instance.event_log_storage.claim_concurrency_slot(POOL, run_id, "jd_transactions").is_claimed
    return run_id


def test_a_worker_elsewhere_is_alive_while_it_beats_gone_once_silent_and_unknown_without_a_beat(instance):
    assert not ELSEWHERE.startswith(socket.gethostname() + ":")
    beating_run = started_run(instance, ELSEWHERE, heartbeat_age_s=5, holds_slot=False)
    silent_run = started_run(instance, ELSEWHERE, heartbeat_age_s=HEARTBEAT_STALE_S + 5, holds_slot=False)
    older_release = started_run(instance, ELSEWHERE, heartbeat_age_s=None, holds_slot=False)
    assert pool_holders.judge(instance, beating_run).liveness == Liveness.ALIVE
    assert pool_holders.judge(instance, silent_run).liveness == Liveness.DEAD
    assert pool_holders.judge(instance, older_release).liveness == Liveness.UNKNOWN


def test_a_run_beats_while_its_steps_run_and_forgets_the_beat_at_the_end(instance, monkeypatch):
    monkeypatch.setattr("jd_helix.lib.pools.heartbeat.HEARTBEAT_INTERVAL_S", 0.05)
    run_id = started_run(instance, this_worker(), heartbeat_age_s=None, holds_slot=False)
    log = Log()
    with beating(instance, run_id, log):
        first = last_heartbeat(instance, run_id)
        assert first is not None and abs(time.time() - first) < 5
        time.sleep(0.3)
        later = last_heartbeat(instance, run_id)
        assert later is not None and later >= first
    assert last_heartbeat(instance, run_id) is None, "no row left behind per run"
    assert log.lines == []


def test_the_sensor_fails_and_frees_runs_whose_worker_is_gone_and_leaves_the_living(instance):
    gone_elsewhere = started_run(instance, ELSEWHERE, heartbeat_age_s=HEARTBEAT_STALE_S + 30)
    gone_here = started_run(instance, f"{socket.gethostname()}:999999:1.00", heartbeat_age_s=1, holds_slot=False)
    alive_elsewhere = started_run(instance, "another-pod:9:1700000000.00", heartbeat_age_s=2, holds_slot=False)
    alive_here = started_run(instance, this_worker(), heartbeat_age_s=None, holds_slot=False)

    result = fail_dead_runs(dg.build_sensor_context(instance=instance))

    assert isinstance(result, dg.SkipReason) and "failed and freed 2 run(s)" in (result.skip_message or "")
    assert instance.get_run_by_id(gone_elsewhere).status == DagsterRunStatus.FAILURE
    assert instance.get_run_by_id(gone_here).status == DagsterRunStatus.FAILURE
    assert instance.get_run_by_id(alive_elsewhere).status == DagsterRunStatus.STARTED
    assert instance.get_run_by_id(alive_here).status == DagsterRunStatus.STARTED
    assert gone_elsewhere not in instance.event_log_storage.get_concurrency_run_ids(), "its slot is free again"
    assert last_heartbeat(instance, gone_elsewhere) is None
    failure = instance.get_run_by_id(gone_elsewhere)
    assert failure is not None
    messages = [e.message for e in instance.all_logs(gone_elsewhere)]
    assert any("failed by the fail_dead_runs sensor" in (m or "") for m in messages)
    # Nothing left to do on the next tick.
    again = fail_dead_runs(dg.build_sensor_context(instance=instance))
    assert isinstance(again, dg.SkipReason) and "none with a dead worker" in (again.skip_message or "")
