"""The daily sweep takes the stalest hours of the week its budget pays for (defs/audit/sweep.py),
and its schedule asks for them from a real DuckDB file, without waiting on a writer."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timedelta

import dagster as dg
import pytest

from jd_helix.defs.audit.schedule import helix_audit_sweep_schedule, sweep_range, sweep_window
from jd_helix.defs.audit.sweep import (
    SweepHour,
    choose_hours,
    contiguous_ranges,
    daily_capacity,
    estimated_requests,
    hourly_audits_demand,
    stalest_first,
    sweep_budget,
)
from jd_helix.lib.hourly_table import aware
from jd_helix.lib.partitions import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG, partition_key
from jd_helix.lib.warehouse_reads import WAREHOUSE_BUSY
from jd_helix.resources.verkada import VerkadaResource
from jd_helix.resources.warehouse import WarehouseResource
from jd_helix_tests import clock
from jd_helix_tests.e2e.harness import naive

# The clock guard runs these at far instants too (test_same_verdict_at_far_instants.py).
pytestmark = pytest.mark.time_sensitive

HOUR = timedelta(hours=1)
WEEK_HOURS = 7 * 24 - 2  # the sweep's window: 7 days back, up to 2 hours back


def _week(events: int) -> list[SweepHour]:
    """The sweep's window at `events` an hour, never audited."""
    last = naive(clock.hours_ago(2))
    return [SweepHour(hour=last - HOUR * back, events=events) for back in range(WEEK_HOURS)]


def _default_budget(events: int) -> int:
    budget = sweep_budget(
        None, daily_capacity(VerkadaResource().audit_rate_limits()), hourly_audits_demand([events] * 24)
    )
    assert budget is not None
    return budget


def test_the_audit_share_admits_2_per_5_3_s_a_day_and_the_hourly_audits_take_their_part():
    assert daily_capacity(VerkadaResource().audit_rate_limits()) == 2 * 86_400_000 // 5_300 == 32_603
    assert (
        daily_capacity(VerkadaResource(audit_requests_per_5s=None, audit_requests_per_minute=None).audit_rate_limits())
        is None
    )
    # 24 hours of 100,000 events, each read twice (500 pages and a token each time)
    assert hourly_audits_demand([100_000] * 24) == 24 * 2 * 501
    assert _default_budget(100_000) == 32_603 - 24_048
    assert sweep_budget(5_000, 32_603, 24_048) == 5_000, "a stated budget wins"
    assert sweep_budget(None, 10_000, 24_048) == 0


def test_an_hour_costs_its_search_pages_and_a_second_read_where_events_went_missing():
    hour = naive(clock.hours_ago(3))
    assert estimated_requests(SweepHour(hour, events=0)) == 1
    assert estimated_requests(SweepHour(hour, events=1_000)) == 5
    assert estimated_requests(SweepHour(hour, events=100_001)) == 501
    # 5,000 re-posted: 5 batch jobs (submit + poll), then the 500 pages again
    assert estimated_requests(SweepHour(hour, events=100_000, last_missing=5_000)) == 500 + 10 + 500


def test_never_audited_hours_come_first_then_the_least_recently_audited():
    now = naive(clock.now())
    h = [naive(clock.hours_ago(back)) for back in range(2, 7)]
    hours = [
        SweepHour(h[0], 10, audited_at=now - timedelta(days=1)),
        SweepHour(h[1], 10, audited_at=now - timedelta(days=3)),
        SweepHour(h[2], 10),
        SweepHour(h[3], 10, audited_at=now - timedelta(hours=1)),
        SweepHour(h[4], 10),
    ]
    assert [x.hour for x in stalest_first(hours)] == [h[4], h[2], h[1], h[0], h[3]]


def test_the_budget_cuts_in_staleness_order_and_a_cheaper_fresher_hour_does_not_jump_the_queue():
    now = naive(clock.now())
    stale_costly = SweepHour(naive(clock.hours_ago(10)), 100_000, audited_at=now - timedelta(days=3))  # 500 + token
    older = SweepHour(naive(clock.hours_ago(20)), 1_000, audited_at=now - timedelta(days=4))  # 5 + token
    fresh_cheap = SweepHour(naive(clock.hours_ago(30)), 200, audited_at=now - timedelta(days=1))  # 1 + token
    hours = [fresh_cheap, stale_costly, older]
    assert choose_hours(hours, budget=506) == [older]
    assert choose_hours(hours, budget=507) == [older, stale_costly]
    assert choose_hours(hours, budget=509) == [older, stale_costly, fresh_cheap]
    assert choose_hours(hours, budget=0) == []
    assert choose_hours(hours, budget=None) == [older, stale_costly, fresh_cheap]


def test_at_low_volume_the_default_budget_covers_the_whole_week_every_day():
    week = _week(1_000)
    chosen = choose_hours(week, _default_budget(1_000))
    assert len(chosen) == WEEK_HOURS
    assert contiguous_ranges([h.hour for h in chosen]) == [(week[-1].hour, week[0].hour)]


def test_at_high_volume_the_sweep_rotates_through_the_week_over_days():
    budget = _default_budget(100_000)  # 8,555 requests: 17 hours of 100,000 events a day
    week = {h.hour: h for h in _week(100_000)}
    audited_on: dict[datetime, list[int]] = {hour: [] for hour in week}
    day0 = naive(clock.now())
    days = -(-WEEK_HOURS // 17)  # 10
    for day in range(days):
        chosen = choose_hours(list(week.values()), budget)
        assert sum(estimated_requests(h) for h in chosen) + len(contiguous_ranges([h.hour for h in chosen])) <= budget
        assert 0 < len(chosen) <= 17
        for h in chosen:
            audited_on[h.hour].append(day)
            week[h.hour] = SweepHour(h.hour, h.events, audited_at=day0 + timedelta(days=day))
    assert all(audited_on.values()), f"every hour of the week audited within {days} days"
    twice = [days_audited for days_audited in audited_on.values() if len(days_audited) > 1]
    assert twice and all(days_audited == [0, days - 1] for days_audited in twice), (
        "an hour is audited again only once every hour had its turn, the stalest first"
    )


def test_contiguous_hours_make_one_range():
    h = [naive(clock.hours_ago(back)) for back in range(2, 9)]
    assert contiguous_ranges([h[0], h[5], h[1], h[2], h[6]]) == [(h[6], h[5]), (h[2], h[0])]
    assert contiguous_ranges([]) == []


# The schedule, against a DuckDB file built here.


@pytest.fixture
def warehouse(tmp_path):
    return WarehouseResource(database=str(tmp_path / "sweep.duckdb"))


def _tick() -> datetime:
    return clock.this_hour().replace(minute=30)


def _key(hour: datetime) -> str:
    return partition_key(aware(hour))


def _fill(warehouse: WarehouseResource, events_per_hour: int) -> tuple[datetime, datetime]:
    """`events_per_hour` ledger rows in each hour from the sweep's first hour to the last complete
    one; the sweep's first and last hour (naive UTC)."""
    window = sweep_window(_tick())
    assert window is not None
    first, last = naive(window[0]), naive(window[1])
    with warehouse.write() as conn:
        conn.execute(
            """INSERT INTO helix_events (transaction_id, sale_hour, event_type_uid, status)
            SELECT 'tx-' || h.i || '-' || e.i, ?::TIMESTAMP + h.i * INTERVAL 1 HOUR, 'type-1', 'posted'
            FROM range(?) h(i), range(?) e(i)""",
            [first, (last - first) // HOUR + 2, events_per_hour],
        )
    return first, last


def _audited(warehouse: WarehouseResource, hours: list[datetime], at: datetime) -> None:
    with warehouse.write() as conn:
        for hour in hours:
            conn.execute("INSERT INTO helix_audit VALUES (?, 'type-1', ?, 0, 0, 0, 0, 0, 0, 0)", [hour, at])


def _evaluate(warehouse: WarehouseResource, verkada: VerkadaResource | None = None):
    context = dg.build_schedule_context(
        scheduled_execution_time=_tick(), resources={"warehouse": warehouse, "verkada": verkada or VerkadaResource()}
    )
    return helix_audit_sweep_schedule(context)


def _ranges(requests) -> list[tuple[str, str]]:
    return [(r.tags[ASSET_PARTITION_RANGE_START_TAG], r.tags[ASSET_PARTITION_RANGE_END_TAG]) for r in requests]


def test_at_low_volume_the_schedule_sweeps_the_whole_window_in_one_run(warehouse):
    _fill(warehouse, 20)
    requests = _evaluate(warehouse)
    assert isinstance(requests, list)
    assert _ranges(requests) == [sweep_range(_tick())]
    window = sweep_range(_tick())
    assert window is not None
    assert requests[0].run_key == f"sweep:{_tick():%Y%m%d}:{window[0]}:{window[1]}"


def test_at_high_volume_the_schedule_takes_the_stalest_hours_its_budget_pays_for(warehouse):
    first, _last = _fill(warehouse, 10_000)  # 50 pages an hour
    # 3 per 60.3 s: 4,298 a day; the hourly audits take 24 * 2 * 51 = 2,448; 1,850 are left:
    # the oldest never-audited hour (50 pages + a token) and the 35 after it.
    verkada = VerkadaResource(audit_requests_per_5s=None, audit_requests_per_minute=4)
    requests = _evaluate(warehouse, verkada)
    assert isinstance(requests, list)
    [request] = requests
    assert _ranges([request]) == [(_key(first), _key(first + 35 * HOUR))]


def test_the_schedule_asks_for_the_never_audited_then_the_stalest_one_run_per_range(warehouse):
    first, last = _fill(warehouse, 10_000)
    never, pair, single = first + 30 * HOUR, (first + 5 * HOUR, first + 6 * HOUR), first + 20 * HOUR
    now = naive(clock.now())
    everything = [first + HOUR * i for i in range((last - first) // HOUR + 1)]
    _audited(warehouse, [h for h in everything if h not in (never, *pair, single)], now)
    _audited(warehouse, list(pair), now - timedelta(days=3))
    _audited(warehouse, [single], now - timedelta(days=2))
    # never (50 + a token), the pair (50 + a token, 50), the single (50 + a token): 203
    requests = _evaluate(warehouse, VerkadaResource(audit_sweep_requests_per_day=203))
    assert isinstance(requests, list)
    assert _ranges(requests) == [
        (_key(pair[0]), _key(pair[1])),
        (_key(single), _key(single)),
        (_key(never), _key(never)),
    ]
    assert all(r.run_key is not None and r.run_key.startswith(f"sweep:{_tick():%Y%m%d}:") for r in requests)
    assert len({r.run_key for r in requests}) == 3
    skipped = _evaluate(warehouse, VerkadaResource(audit_sweep_requests_per_day=50))
    assert isinstance(skipped, dg.SkipReason) and "does not pay for the stalest hour (51 requests)" in (
        skipped.skip_message or ""
    )


def test_the_schedule_skips_the_tick_while_a_run_writes_the_warehouse(warehouse):
    _fill(warehouse, 5)
    writer = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('open', flush=True); time.sleep(60)",
            warehouse.database,
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert writer.stdout is not None and writer.stdout.readline().strip() == "open"
        skipped = _evaluate(warehouse)
        assert isinstance(skipped, dg.SkipReason) and skipped.skip_message == WAREHOUSE_BUSY
    finally:
        writer.kill()
        writer.wait()
    assert isinstance(_evaluate(warehouse), list), "the next tick, the writer gone, sweeps"
