"""last_hour_posted_by_deadline files one result per hour of its run, under that hour, and
leaves nothing "Skipped" (a planned evaluation never filed); the scheduled evaluation files
the hour then due, and an hour never posted turns it yellow."""

from datetime import UTC, datetime, timedelta

import dagster as dg
import time_machine
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus

from jd_helix.definitions import defs
from jd_helix.defs.helix.freshness import hour_due, last_hour_posted_by_deadline
from jd_helix.lib.partitions import partition_key, partition_range_tags
from jd_helix.sandbox import Sandbox, SandboxConfig
from jd_helix_tests.e2e.harness import HOURLY_ASSETS, refresh_dimensions, resources_for

CONFIG = SandboxConfig(
    seed=3,
    stores=2,
    pos_per_store=2,
    items=10,
    fixed_sales_per_hour=10,
    clean=True,
    rate_limit_per_5s=None,
    rate_limit_per_minute=None,
)
CHECK = last_hour_posted_by_deadline.check_key


def _executions(instance: dg.DagsterInstance, run_id: str):
    history = instance.event_log_storage.get_asset_check_execution_history(CHECK, limit=1000)
    return [record for record in history if record.run_id == run_id]


def test_a_ranged_run_files_one_result_per_hour_and_nothing_skipped(tmp_path):
    this_hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    hours = [this_hour - timedelta(hours=n) for n in (4, 3, 2)]
    with (
        dg.instance_for_test() as instance,
        Sandbox.running(CONFIG, port=0) as sandbox,
        # 5 past the hour: the last complete hour's :45 deadline is still ahead.
        time_machine.travel(this_hour + timedelta(minutes=5), tick=True) as clock,
    ):
        resources = resources_for(sandbox, str(tmp_path / "freshness.duckdb"))
        assert refresh_dimensions(resources, instance=instance).success
        ranged = dg.materialize(
            [*HOURLY_ASSETS, last_hour_posted_by_deadline],
            resources=resources,
            instance=instance,
            tags=partition_range_tags(partition_key(hours[0]), partition_key(hours[-1])),
        )
        executions = _executions(instance, ranged.run_id)
        assert sorted(e.partition or "" for e in executions) == [partition_key(h) for h in hours]
        assert {e.status for e in executions} == {AssetCheckExecutionRecordStatus.SUCCEEDED}

        # At :46 the hour then due (the last complete one) has not been posted: the schedule's run says so.
        clock.shift(timedelta(minutes=41))
        due = hour_due(datetime.now(UTC))
        assert due == this_hour - timedelta(hours=1)
        scheduled = defs.resolve_job_def("helix_freshness_job").execute_in_process(instance=instance)
        (evaluation,) = scheduled.get_asset_check_evaluations()
        assert (evaluation.partition, evaluation.passed) == (partition_key(due), False)
        assert evaluation.description == f"{partition_key(due)} is not posted yet (due by {this_hour:%H}:45 UTC)"
