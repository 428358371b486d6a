"""The project's executor runs a job's steps as Dagster's in_process executor would, from the
same configuration (its retries above all: run by its own `executor_creation_fn`), and
records the worker that runs them (the tag dead holders are judged by)."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from jd_helix.lib.pools.executor import pool_aware_in_process_executor
from jd_helix.lib.pools.worker import WORKER_TAG, this_worker

ATTEMPTS_FILE = "attempts"


@dg.op(pool="verkada_helix", config_schema={"folder": str})
def fails_on_its_first_attempt(context) -> None:
    attempts = Path(context.op_config["folder"]) / ATTEMPTS_FILE
    attempts.write_text(attempts.read_text() + "x" if attempts.exists() else "x")
    if context.retry_number == 0:
        raise dg.RetryRequested(max_retries=1)


@dg.job(executor_def=pool_aware_in_process_executor)
def retried_job() -> None:
    fails_on_its_first_attempt()


@pytest.mark.parametrize(
    ("retries", "succeeds", "attempts"), [({"enabled": {}}, True, 2), ({"disabled": {}}, False, 1)]
)
def test_the_steps_retry_as_dagsters_in_process_executor_is_configured(tmp_path, retries, succeeds, attempts):
    run_config = {
        "ops": {"fails_on_its_first_attempt": {"config": {"folder": str(tmp_path)}}},
        "execution": {"config": {"retries": retries}},
    }
    (tmp_path / "instance").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "instance")) as instance:
        result = dg.execute_job(dg.reconstructable(retried_job), instance=instance, run_config=run_config)
        run = instance.get_run_by_id(result.run_id)
    assert result.success is succeeds
    assert len((tmp_path / ATTEMPTS_FILE).read_text()) == attempts
    assert run is not None and run.tags[WORKER_TAG] == this_worker()  # in process: this process runs the steps


def test_a_config_dagsters_executor_refuses_is_refused():
    with pytest.raises(dg.DagsterInvalidConfigError):
        dg.validate_run_config(retried_job, {"execution": {"config": {"retries": {"sometimes": {}}}}})
