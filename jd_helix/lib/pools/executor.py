"""The project's executor: Dagster's in-process executor, with pool waits that sleep and
see dead holders, a record of which process runs each run, and that process's heartbeat.

All steps of a run share one process (a process per step would only cost start-up time).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import dagster as dg
from dagster._core.definitions.executor_definition import IN_PROC_CONFIG, _core_in_process_executor_creation
from dagster._core.events import DagsterEvent, EngineEventData
from dagster._core.execution.api import ExecuteRunWithPlanIterable
from dagster._core.execution.context_creation_job import PlanExecutionContextManager
from dagster._core.execution.plan.execute_plan import inner_plan_execution_iterator
from dagster._core.executor.in_process import InProcessExecutor

from jd_helix.lib.pools.heartbeat import beating
from jd_helix.lib.pools.waiting import PoolWaitContext
from jd_helix.lib.pools.worker import WORKER_TAG, this_worker


def _pool_aware_iterator(job_context, execution_plan, instance_concurrency_context=None) -> Iterator[DagsterEvent]:
    with PoolWaitContext(job_context.instance, job_context.dagster_run, job_context.log) as pools:
        yield from inner_plan_execution_iterator(job_context, execution_plan, pools)


class PoolAwareInProcessExecutor(InProcessExecutor):
    """InProcessExecutor.execute, with PoolWaitContext in place of InstanceConcurrencyContext."""

    def execute(self, plan_context, execution_plan) -> Iterator[DagsterEvent]:
        # Before any slot is claimed: a run waiting on this one's slots can then tell
        # whether this process is still alive.
        plan_context.instance.add_run_tags(plan_context.run_id, {WORKER_TAG: this_worker()})
        step_keys = execution_plan.step_keys_to_execute
        yield DagsterEvent.engine_event(
            plan_context,
            f"Executing steps in process (pid: {os.getpid()})",
            event_specific_data=EngineEventData.in_process(os.getpid(), step_keys),
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


@dg.executor(name="in_process", config_schema=IN_PROC_CONFIG)
def pool_aware_in_process_executor(init_context) -> PoolAwareInProcessExecutor:
    """Dagster's in_process executor (same config) whose steps wait for pools asleep and free
    the slots of dead runs; see jd_helix/lib/pools."""
    base = _core_in_process_executor_creation(init_context.executor_config)
    return PoolAwareInProcessExecutor(retries=base.retries, step_dependency_config=base.step_dependency_config)
