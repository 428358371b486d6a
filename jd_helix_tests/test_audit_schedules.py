"""What the audit schedules ask for: recent hours after they are posted, and a daily week."""

from datetime import UTC, datetime, timedelta

import dagster as dg

from jd_helix.defs.audit.schedule import (
    helix_audit_job,
    helix_audit_schedule,
    helix_audit_sweep_schedule,
    recent_hours_to_audit,
    sweep_range,
)
from jd_helix.lib.partitions import hourly_partitions, partition_key


def _now_hour() -> datetime:
    return datetime.now(UTC).replace(minute=50, second=0, microsecond=0)


def test_both_schedules_ship_running_and_target_the_audit_job():
    for schedule in (helix_audit_schedule, helix_audit_sweep_schedule):
        assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING
        assert schedule.job_name == helix_audit_job.name


def test_each_hour_audits_the_hours_2_and_24_hours_back_inside_the_partitions():
    tick = _now_hour()
    this_hour = tick.replace(minute=0)
    keys = recent_hours_to_audit(tick)
    wanted = [this_hour - timedelta(hours=2), this_hour - timedelta(hours=24)]
    assert keys == [partition_key(hour) for hour in wanted if hour >= hourly_partitions.start]
    assert recent_hours_to_audit(hourly_partitions.start + timedelta(minutes=50)) == []


def test_the_daily_sweep_covers_the_last_week_up_to_2_hours_back():
    tick = _now_hour().replace(hour=3, minute=30)
    first, last = sweep_range(tick) or ("", "")
    this_hour = tick.replace(minute=0)
    assert last == partition_key(this_hour - timedelta(hours=2))
    assert first == partition_key(max(this_hour - timedelta(days=7), hourly_partitions.start))


def test_the_ticks_ask_for_those_hours():
    tick = _now_hour()
    requests = helix_audit_schedule(dg.build_schedule_context(scheduled_execution_time=tick))
    assert isinstance(requests, list)
    assert [request.partition_key for request in requests] == recent_hours_to_audit(tick)
    assert len({request.run_key for request in requests}) == len(requests)
    # The sweep's ticks, read from a warehouse, are in test_audit_sweep.py.
