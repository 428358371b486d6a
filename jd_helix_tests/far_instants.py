"""The far instants the clock guard (test_same_verdict_at_far_instants.py) sets the test clock
to: the shapes of date that break code that assumes too much about "now"."""

from __future__ import annotations

import calendar
from datetime import UTC, datetime, timedelta


def last_sunday_0100(year: int, month: int) -> datetime:
    """01:00 UTC on the last Sunday of the month: when Europe/London changes its clocks (March, October)."""
    last_day = datetime(year, month, calendar.monthrange(year, month)[1], 1, 0, tzinfo=UTC)
    return last_day - timedelta(days=(last_day.weekday() - calendar.SUNDAY) % 7)


def next_london_clock_change(month: int, after: datetime) -> datetime:
    year = after.year
    while (instant := last_sunday_0100(year, month)) <= after:
        year += 1
    return instant


def next_leap_day_late_evening(after: datetime) -> datetime:
    """2028-02-29 23:30 UTC, or the same hour of a later leap day when that one has passed."""
    year = 2028
    while not calendar.isleap(year) or datetime(year, 2, 29, 23, 30, tzinfo=UTC) <= after:
        year += 1
    return datetime(year, 2, 29, 23, 30, tzinfo=UTC)


def next_new_years_eve_late(after: datetime) -> datetime:
    """31 December 23:30 UTC, the next one after `after`."""
    year = after.year if datetime(after.year, 12, 31, 23, 30, tzinfo=UTC) > after else after.year + 1
    return datetime(year, 12, 31, 23, 30, tzinfo=UTC)


def first_hour_of_next_month(after: datetime) -> datetime:
    start_of_month = after.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return (start_of_month + timedelta(days=32)).replace(day=1)


def a_year_ahead(after: datetime) -> datetime:
    """The same instant next year (28 February for a 29th)."""
    try:
        return after.replace(year=after.year + 1)
    except ValueError:
        return after.replace(year=after.year + 1, day=28)


def far_instants(now: datetime) -> dict[str, datetime]:
    """The guard's instants, by name, all after `now` (aware, UTC)."""
    now = now.astimezone(UTC)
    return {
        "next-month": first_hour_of_next_month(now),
        "a-year-ahead": a_year_ahead(now),
        "london-to-summer-time": next_london_clock_change(3, now),
        "london-to-winter-time": next_london_clock_change(10, now),
        "leap-day": next_leap_day_late_evening(now),
        "new-years-eve": next_new_years_eve_late(now),
    }
