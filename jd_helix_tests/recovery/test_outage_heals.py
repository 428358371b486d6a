"""An outage heals by itself: while the JD or Verkada API is down, the hours' runs fail;
hour_recovery_sensor runs them again with growing waits, and once the API is back every
affected hour is posted exactly once, with nobody doing anything; the run that posted them
says why they were late.

The real assets run against the sandbox over loopback HTTP into a real DuckDB file, on a
Dagster instance of their own; the sensor is ticked every (simulated) minute as the daemon
would, and every run it asks for is executed. The clock is shortened with time-machine: each
tick moves "now" one minute on (the sandbox, the runs' timestamps and the sensor all follow
it), so a 2-hour outage takes a couple of minutes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import dagster as dg
import pytest
import time_machine

from jd_helix.defs.helix.freshness import last_hour_posted_by_deadline
from jd_helix.defs.hourly_sales.recovery import LONGEST_WAIT, hour_recovery_sensor, wait_after
from jd_helix.lib.partitions import partition_key, partition_range_tags
from jd_helix.lib.run_tags import LATE_BECAUSE_TAG, RECOVERY_ATTEMPT_TAG
from jd_helix.resources.jd_api import JdApiResource
from jd_helix.sandbox import Sandbox, SandboxConfig
from jd_helix_tests.chaos.harness import check_against_truth
from jd_helix_tests.e2e.harness import HOURLY_ASSETS, refresh_dimensions, resources_for

CONFIG = SandboxConfig(
    seed=28,
    stores=2,
    pos_per_store=2,
    items=10,
    fixed_sales_per_hour=20,
    clean=True,
    rate_limit_per_5s=None,
    rate_limit_per_minute=None,
)
ASSETS = [*HOURLY_ASSETS, last_hour_posted_by_deadline]
TICK = timedelta(minutes=1)  # the sensor's minimum interval
AFTER_HEALING = timedelta(minutes=30)  # ticks after the hours are posted: nothing more is asked for


@dataclass
class Outage:
    length: timedelta
    api: str
    faults: dict
    says: str  # what the error of the failed runs (and so the late runs' tag) names


OUTAGES = {
    "JD and Verkada answer 503 for 10 minutes": Outage(
        timedelta(minutes=10), "both", {"error_rate": 1.0}, "The JD API is down at http://127.0.0.1:"
    ),
    "Verkada unreachable for 2 hours": Outage(
        timedelta(hours=2), "verkada", {"drop_rate": 1.0}, "Verkada is unreachable at http://127.0.0.1:"
    ),
}


@dataclass
class Launched:
    at: datetime
    tags: dict[str, str]
    result: dg.ExecuteInProcessResult = field(repr=False)


def most_attempts_within(length: timedelta) -> int:
    """How many runs the sensor's waits allow inside an outage of `length` (after the first failure)."""
    attempts, waited = 0, timedelta(0)
    while waited + wait_after(attempts + 1) <= length:
        attempts += 1
        waited += wait_after(attempts)
    return attempts


def run(resources: dict, instance: dg.DagsterInstance, tags: dict[str, str]) -> dg.ExecuteInProcessResult:
    return dg.materialize(ASSETS, resources=resources, instance=instance, tags=tags, raise_on_error=False)


def freshness_of(result: dg.ExecuteInProcessResult, hour: datetime):
    (evaluation,) = [
        e
        for e in result.get_asset_check_evaluations()
        if e.check_name == last_hour_posted_by_deadline.check_key.name and e.partition == partition_key(hour)
    ]
    return evaluation


@pytest.mark.parametrize("name", list(OUTAGES))
def test_an_outage_heals_by_itself_and_every_hour_is_posted_once(tmp_path, name):
    outage = OUTAGES[name]
    database = str(tmp_path / "outage.duckdb")
    this_hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    earlier, hours = this_hour - timedelta(hours=3), [this_hour - timedelta(hours=2), this_hour - timedelta(hours=1)]
    launched: list[Launched] = []
    with (
        dg.instance_for_test() as instance,
        Sandbox.running(CONFIG, port=0) as sandbox,
        # From 5 past the hour: the last hour's :45 deadline then falls inside the outage, whatever the hour.
        time_machine.travel(this_hour + timedelta(minutes=5), tick=True) as clock,
    ):
        # Few HTTP retries: the outage, not the session's backoff, is what is tested.
        resources = resources_for(sandbox, database, max_retries=1)
        resources["jd_api"] = JdApiResource(base_url=sandbox.jd_base_url, api_key=sandbox.jd_api_key, max_retries=1)
        assert refresh_dimensions(resources, instance=instance).success
        # An hour posted before the outage: lateness is measured from the first hour posted on.
        assert run(resources, instance, partition_range_tags(partition_key(earlier), partition_key(earlier))).success

        sandbox.faults.update(api=outage.api, **outage.faults)
        outage_ends = datetime.now(UTC) + outage.length
        # The :15 schedule's run over the two hours, as the outage starts.
        scheduled = run(resources, instance, partition_range_tags(partition_key(hours[0]), partition_key(hours[-1])))
        assert not scheduled.success
        while datetime.now(UTC) < outage_ends + LONGEST_WAIT + AFTER_HEALING:
            now = datetime.now(UTC)
            if now >= outage_ends:
                sandbox.faults.reset()
            outcome = hour_recovery_sensor(dg.build_sensor_context(instance=instance))
            for request in getattr(outcome, "run_requests", None) or []:
                launched.append(Launched(now, dict(request.tags), run(resources, instance, dict(request.tags))))
            clock.shift(TICK)

        # Every affected hour is in Helix once, as is the hour before; nothing is left failed or pending.
        counts = check_against_truth(sandbox, database, [earlier, *hours])
        assert counts["postable_sales"] == counts["helix_events"] > 0

    during = [launch for launch in launched if launch.at < outage_ends]
    after = [launch for launch in launched if launch.at >= outage_ends]
    assert all(not launch.result.success for launch in during)
    # Waits grow: 2, 4, 8... minutes after each failure, so an outage costs a handful of runs.
    assert 1 <= len(during) <= most_attempts_within(outage.length), [launch.at for launch in during]
    # Launch i+1 comes wait_after(failures so far) after launch i ended (the scheduled run was the first failure).
    gaps = [b.at - a.at for a, b in pairwise(during)]
    assert all(wait_after(i + 2) <= gap <= wait_after(i + 2) + 2 * TICK for i, gap in enumerate(gaps)), gaps
    # Once the API is back, one run posts the hours, within the longest wait; then nothing more.
    assert len(after) == 1 and after[0].result.success, after
    assert after[0].at - outage_ends <= LONGEST_WAIT + TICK
    healed = after[0]
    print(
        f"{name}: {len(during)} failed runs during the outage (after the scheduled one); "
        f"posted {(healed.at - outage_ends).total_seconds() / 60:.0f} min after it ended"
    )
    assert healed.tags["dagster/asset_partition_range_start"] == partition_key(hours[0])
    assert healed.tags["dagster/asset_partition_range_end"] == partition_key(hours[-1])
    assert healed.tags[RECOVERY_ATTEMPT_TAG] == str(len(during) + 2)  # the scheduled run, the retries, then this

    # The UI says why the hours were late: on the run, and on each hour of helix_events.
    because = healed.tags[LATE_BECAUSE_TAG]
    assert outage.says in because and "failed" in because, because
    last_run = during[-1].result.run_id if during else scheduled.run_id
    assert last_run in because
    for materialization in healed.result.asset_materializations_for_node("helix_events"):
        assert materialization.metadata["run/late_because"].value == because
    if outage.length >= timedelta(hours=1):  # the last hour's deadline (:45) passed during the outage
        late = freshness_of(healed.result, hours[-1])
        assert not late.passed and "min after its deadline" in (late.description or ""), late.description
        assert late.metadata["late_because"].value == because


def test_the_recovery_sensor_ships_switched_on_and_run_retries_leave_failed_steps_to_it():
    import yaml

    from jd_helix.definitions import defs
    from jd_helix_tests.recovery.deployment import PROJECT_ROOT

    assert defs.resolve_sensor_def("hour_recovery_sensor").default_status == dg.DefaultSensorStatus.RUNNING
    for instance_file in ("dagster.yaml", "deploy/dagster.yaml"):
        retries = yaml.safe_load((PROJECT_ROOT / instance_file).read_text())["run_retries"]
        assert retries["enabled"] and retries["retry_on_asset_or_op_failure"] is False, instance_file


def test_waits_grow_to_half_an_hour_and_hours_are_run_again_span_by_span():
    from jd_helix.defs.hourly_sales.recovery import spans

    assert [wait_after(n).total_seconds() / 60 for n in range(1, 8)] == [2, 4, 8, 16, 30, 30, 30]
    assert spans(["2026-03-02-05:00", "2026-03-02-01:00", "2026-03-02-02:00", "2026-03-02-03:00"]) == [
        ("2026-03-02-01:00", "2026-03-02-03:00"),
        ("2026-03-02-05:00", "2026-03-02-05:00"),
    ]
