"""The project's executor: Dagster's in-process executor, with pool waits that sleep and
see dead holders, a record of which process runs each run, and that process's heartbeat.

All steps of a run share one process (a process per step would only cost start-up time).
Dagster's own executor builds its InstanceConcurrencyContext inside, with no way to hand it
another, so `execute` repeats its few lines around the run's plan with PoolWaitContext: the
three names imported from `dagster._core` below are all the private API it needs (the
configuration, the retries and the step dependencies are those of Dagster's executor, built
by its public `executor_creation_fn`). Dagster's `granularity: run` was measured as the
alternative and kept this (issue 27: README, "Unattended: dead runs never wedge the pools").
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import dagster as dg
from dagster._core.execution.api import ExecuteRunWithPlanIterable
from dagster._core.execution.context_creation_job import PlanExecutionContextManager
from dagster._core.execution.plan.execute_plan import inner_plan_execution_iterator

from jd_helix.lib.pools.heartbeat import beating
from jd_helix.lib.pools.waiting import PoolWaitContext
from jd_helix.lib.pools.worker import WORKER_TAG, this_worker


def _pool_aware_iterator(job_context, execution_plan, instance_concurrency_context=None) -> Iterator[dg.DagsterEvent]:
    with PoolWaitContext(job_context.instance, job_context.dagster_run, job_context.log) as pools:
        yield from inner_plan_execution_iterator(job_context, execution_plan, pools)


class PoolAwareInProcessExecutor(dg.Executor):
    """Dagster's InProcessExecutor (`dagster_executor`: its retries and step dependencies),
    whose execute uses PoolWaitContext in place of InstanceConcurrencyContext."""

    def __init__(self, dagster_executor: dg.Executor):
        self._dagster_executor = dagster_executor

    @property
    def retries(self):
        return self._dagster_executor.retries

    @property
    def step_dependency_config(self):
        return self._dagster_executor.step_dependency_config

    def execute(self, plan_context, execution_plan) -> Iterator[dg.DagsterEvent]:
        # Before any slot is claimed: a run waiting on this one's slots can then tell
        # whether this process is still alive.
        plan_context.instance.add_run_tags(plan_context.run_id, {WORKER_TAG: this_worker()})
        plan_context.instance.report_engine_event(
            f"Executing steps in process (pid: {os.getpid()})", plan_context.dagster_run
        )
        # A heartbeat in the instance: hosts other than this one can tell that it lives.
        with beating(plan_context.instance, plan_context.run_id, plan_context.log):
            yield from iter(
                ExecuteRunWithPlanIterable(
                    execution_plan=plan_context.execution_plan,
                    iterator=_pool_aware_iterator,
                    execution_context_manager=PlanExecutionContextManager(
                        job=plan_context.job,
                        retry_mode=plan_context.retry_mode,
                        execution_plan=plan_context.execution_plan,
                        run_config=plan_context.run_config,
                        dagster_run=plan_context.dagster_run,
                        instance=plan_context.instance,
                        raise_on_error=plan_context.raise_on_error,
                        output_capture=plan_context.output_capture,
                        step_dependency_config=self.step_dependency_config,
                    ),
                )
            )


@dg.executor(name="in_process", config_schema=dg.in_process_executor.config_schema.as_field())
def pool_aware_in_process_executor(init_context) -> PoolAwareInProcessExecutor:
    """Dagster's in_process executor (same config) whose steps wait for pools asleep and free
    the slots of dead runs; see jd_helix/lib/pools."""
    create_dagster_executor = dg.in_process_executor.executor_creation_fn
    assert create_dagster_executor is not None  # Dagster's in_process executor always has one
    return PoolAwareInProcessExecutor(create_dagster_executor(init_context))
