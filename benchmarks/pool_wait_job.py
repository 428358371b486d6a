"""Two one-step jobs in pool verkada_helix for benchmarks/pool_wait.py: one on Dagster's own
in_process executor (the baseline), one on the project's executor."""

import dagster as dg

from jd_helix.lib.pools.executor import pool_aware_in_process_executor


@dg.op(pool="verkada_helix")
def wait_for_the_pool() -> None:
    """Does nothing: all the cost measured is the wait before it."""


@dg.job(executor_def=dg.in_process_executor)
def dagster_in_process() -> None:
    wait_for_the_pool()


@dg.job(executor_def=pool_aware_in_process_executor)
def jd_helix_executor() -> None:
    wait_for_the_pool()


defs = dg.Definitions(jobs=[dagster_in_process, jd_helix_executor])
