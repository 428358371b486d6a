"""The hourly schedule asks for the right hours; the retry sensor decides as documented."""

from datetime import datetime, timedelta

import dagster as dg
import pytest

from jd_helix.defs.helix.remap import rejoin_unmapped_sensor
from jd_helix.defs.helix.retry import helix_retry_sensor, retry_due
from jd_helix.defs.hourly_sales.schedule import hourly_sales_schedule
from jd_helix.lib.partitions import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG, partition_key
from jd_helix.resources.helix_settings import HelixSettings
from jd_helix.resources.hourly_settings import HourlySettings
from jd_helix.resources.warehouse import WarehouseResource
from jd_helix_tests import clock
from jd_helix_tests.e2e.harness import naive

# The clock guard runs these at far instants too (test_same_verdict_at_far_instants.py).
pytestmark = pytest.mark.time_sensitive


def test_the_schedule_runs_the_hour_that_ended_with_its_look_back():
    ended = clock.hours_ago(1)
    context = dg.build_schedule_context(
        scheduled_execution_time=clock.schedule_tick(ended),
        resources={"hourly_settings": HourlySettings(lookback_hours=2)},
    )
    request = hourly_sales_schedule(context)
    assert request.tags[ASSET_PARTITION_RANGE_START_TAG] == partition_key(ended - timedelta(hours=2))
    assert request.tags[ASSET_PARTITION_RANGE_END_TAG] == partition_key(ended)
    assert request.run_key == partition_key(ended)


def test_the_schedule_crosses_midnight_and_honours_a_zero_look_back():
    last_hour_of_yesterday = clock.start_of_today() - timedelta(hours=1)
    context = dg.build_schedule_context(
        scheduled_execution_time=clock.schedule_tick(last_hour_of_yesterday),
        resources={"hourly_settings": HourlySettings(lookback_hours=0)},
    )
    request = hourly_sales_schedule(context)
    assert last_hour_of_yesterday.hour == 23
    assert (
        request.tags[ASSET_PARTITION_RANGE_START_TAG]
        == request.tags[ASSET_PARTITION_RANGE_END_TAG]
        == partition_key(last_hour_of_yesterday)
    )


def test_the_schedule_fires_fifteen_minutes_past_each_hour_in_utc():
    assert hourly_sales_schedule.cron_schedule == "15 * * * *"
    assert hourly_sales_schedule.execution_timezone == "UTC"


@pytest.mark.parametrize(
    "attempts, minutes_since, due",
    [(1, 4, False), (1, 5, True), (2, 9, False), (2, 10, True), (3, 19, False), (3, 20, True)],
)
def test_retries_wait_longer_after_each_attempt(attempts, minutes_since, due):
    now = datetime(2026, 11, 28, 12, 0)
    assert retry_due(attempts, now - timedelta(minutes=minutes_since), now, base_minutes=5) is due


@pytest.fixture
def warehouse(tmp_path):
    return WarehouseResource(database=str(tmp_path / "sensor.duckdb"))


def add_ledger_rows(warehouse, rows, event_type_uid="type-1"):
    """rows: (transaction_id, hour, status, attempts, minutes since the last attempt), of an
    event type the ledger posts to (helix_destination) unless another uid is given."""
    now = naive(clock.now())
    with warehouse.write() as conn:
        conn.execute("DELETE FROM helix_destination")
        conn.execute(
            "INSERT INTO helix_destination (api_base_url, event_type_uid, recorded_at) "
            "VALUES ('https://api.verkada.com', 'type-1', ?)",
            [now],
        )
        for tid, hour, status, attempts, minutes in rows:
            conn.execute(
                "INSERT INTO helix_events (transaction_id, sale_hour, event_type_uid, status, attempts, last_attempt_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [tid, hour, event_type_uid, status, attempts, now - timedelta(minutes=minutes)],
            )


def evaluate(warehouse, cursor=None, max_attempts=4):
    context = dg.build_sensor_context(
        cursor=cursor,
        resources={
            "warehouse": warehouse,
            "helix_settings": HelixSettings(max_attempts=max_attempts, retry_base_minutes=5),
        },
    )
    return helix_retry_sensor(context)


def evaluate_rejoin(warehouse, cursor=None):
    return rejoin_unmapped_sensor(dg.build_sensor_context(cursor=cursor, resources={"warehouse": warehouse}))


def test_the_sensor_asks_for_failed_hours_that_are_due_and_gives_up_after_max_attempts(warehouse):
    hour = naive(clock.hours_ago(3))
    add_ledger_rows(
        warehouse,
        [
            ("due", hour, "failed", 1, 6),
            ("also-due-same-hour", hour, "failed", 1, 6),
            ("not-yet", hour - timedelta(hours=1), "failed", 2, 3),
            ("exhausted", hour - timedelta(hours=2), "failed", 4, 600),
            ("fine", hour - timedelta(hours=3), "posted", 1, 600),
        ],
    )
    # A failed event of a type no longer declared (not in helix_destination) is not posted to: not asked for.
    add_ledger_rows(
        warehouse, [("undeclared", hour - timedelta(hours=4), "failed", 1, 600)], event_type_uid="type-gone"
    )
    result = evaluate(warehouse)
    requests = result.run_requests
    assert [(r.job_name, r.partition_key) for r in requests] == [("helix_retry_job", hour.strftime("%Y-%m-%d-%H:%M"))]
    assert requests[0].run_key.startswith(f"retry:{hour.strftime('%Y-%m-%d-%H:%M')}:1:")


def test_unmapped_hours_are_re_joined_once_when_the_camera_lists_change(warehouse):
    hour = naive(clock.hours_ago(5))
    older = hour - timedelta(hours=7)
    add_ledger_rows(warehouse, [("u1", hour, "unmapped", 0, 0), ("u2", older, "unmapped", 0, 0)])
    assert isinstance(evaluate(warehouse), dg.SkipReason), "unmapped sales are not the retry sensor's job"
    first = evaluate_rejoin(warehouse)
    assert not first.run_requests and first.cursor, "the first tick only learns the cameras"
    assert not evaluate_rejoin(warehouse, cursor=first.cursor).run_requests, "a refresh that changes nothing"
    with warehouse.write() as conn:
        conn.execute("INSERT INTO verkada_cameras (camera_id, name) VALUES ('new-cam', 'Till 9')")
    changed = evaluate_rejoin(warehouse, cursor=first.cursor)
    [request] = changed.run_requests
    assert request.job_name == "helix_remap_job"
    assert request.tags[ASSET_PARTITION_RANGE_START_TAG] == older.strftime("%Y-%m-%d-%H:%M")
    assert request.tags[ASSET_PARTITION_RANGE_END_TAG] == hour.strftime("%Y-%m-%d-%H:%M")
    assert changed.cursor != first.cursor
    assert not evaluate_rejoin(warehouse, cursor=changed.cursor).run_requests


def test_the_sensors_skip_quietly_when_there_is_no_warehouse_yet(tmp_path):
    absent = WarehouseResource(database=str(tmp_path / "absent.duckdb"))
    assert isinstance(evaluate(absent), dg.SkipReason)
    assert isinstance(evaluate_rejoin(absent), dg.SkipReason)


def test_the_deployed_schedule_reads_its_look_back_from_the_resource_fed_by_the_environment(monkeypatch):
    from jd_helix.resources.from_environment import build_resources

    monkeypatch.setenv("JD_HELIX_LOOKBACK_HOURS", "5")
    monkeypatch.setenv("JD_HELIX_MAX_UNMAPPED_SHARE", "0.25")
    resources = build_resources()
    settings = resources["hourly_settings"]
    assert settings.lookback_hours.env_var_name == "JD_HELIX_LOOKBACK_HOURS"  # the UI shows the variable's name
    assert settings.max_unmapped_share == 0.25
    ended = clock.hours_ago(1)
    context = dg.build_schedule_context(scheduled_execution_time=clock.schedule_tick(ended), resources=resources)
    assert hourly_sales_schedule(context).tags[ASSET_PARTITION_RANGE_START_TAG] == partition_key(
        ended - timedelta(hours=5)
    )


def test_a_share_that_is_not_a_number_names_the_setting(monkeypatch):
    from jd_helix.resources.from_environment import build_resources

    monkeypatch.setenv("JD_HELIX_MAX_UNMAPPED_SHARE", "ten percent")
    with pytest.raises(ValueError, match="JD_HELIX_MAX_UNMAPPED_SHARE='ten percent' is not a number"):
        build_resources()
