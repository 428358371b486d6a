"""Runs whose worker died without anyone watching are failed, so that run retries resume them.

Runs are processes of the code-location container (Dagster's default run launcher), and
Dagster's run monitoring cannot check such workers' health. When the container is replaced
(a redeploy, `docker compose up -d --build`) its runs die with it and would stay STARTED,
holding their pool slots, until another run happened to wait for those slots. This sensor
looks every 30 s at every started run and every pool holder: one whose worker is gone (its
process, on this host; its heartbeat, from any host) is marked failed and its slots freed,
and run retries (dagster.yaml `run_retries`) start it again from the step that did not finish.
"""

from __future__ import annotations

import dagster as dg

from jd_helix.lib.pools import holders as pool_holders

CHECK_EVERY_S = 30


@dg.sensor(
    name="fail_dead_runs",
    minimum_interval_seconds=CHECK_EVERY_S,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Marks failed (so run retries resume them) the started runs whose worker is gone - killed, or in a "
        "code-location container that was replaced - and frees their pool slots."
    ),
)
def fail_dead_runs(context: dg.SensorEvaluationContext):
    instance = context.instance
    started = {
        record.dagster_run.run_id
        for record in instance.get_run_records(dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED]))
    }
    run_ids = started | set(instance.event_log_storage.get_concurrency_run_ids())
    released = []
    for run_id in sorted(run_ids):
        holder = pool_holders.judge(instance, run_id)
        if holder.releasable:
            pool_holders.release(
                instance, holder, f"Its worker is gone ({holder.describe()}): failed by the fail_dead_runs sensor."
            )
            context.log.warning(f"Failed and freed {holder.describe()}: its worker is gone.")
            released.append(run_id)
    if not released:
        return dg.SkipReason(f"{len(run_ids)} started or slot-holding runs, none with a dead worker")
    return dg.SkipReason(f"failed and freed {len(released)} run(s) whose worker is gone: {', '.join(released)}")
