"""The tests' clock: JD_HELIX_TEST_NOW=<ISO instant with offset> makes the whole test
session start at that instant and tick on from there, so a run can be placed at any
hour of the week (the sandbox's sales follow the hour; Helix's 30-day window, the
retry sensor and "recent hours" follow "now"). Unset, the real clock is used.

time-machine patches the standard library's clocks (datetime.now, time.time, ...) in
this process only, so that no production module needs a clock of its own; a
subprocess a test starts follows the same instant by calling `follow_test_clock()`
first (the variable reaches it through the environment).

Tests take their hours from the helpers below (`hours_ago(3)`, `schedule_tick(hour)`, ...),
never from date literals: partitions start JD_HELIX_HISTORY_DAYS before today, so a fixed
date falls out of them (and out of Helix's 30-day window) as the calendar moves on.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta

import time_machine

TEST_NOW_VARIABLE = "JD_HELIX_TEST_NOW"


def chosen_now() -> datetime | None:
    """The instant JD_HELIX_TEST_NOW names, or None when it is unset."""
    value = os.environ.get(TEST_NOW_VARIABLE, "").strip()
    if not value:
        return None
    try:
        instant = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(
            f"{TEST_NOW_VARIABLE}={value!r} is not an ISO instant, e.g. 2026-11-29T04:00:00+00:00"
        ) from None
    if instant.tzinfo is None:
        raise ValueError(f"{TEST_NOW_VARIABLE}={value!r} needs a UTC offset, e.g. 2026-11-29T04:00:00+00:00")
    return instant


def follow_test_clock() -> time_machine.travel | None:
    """Start ticking from JD_HELIX_TEST_NOW (when set) until the process ends."""
    instant = chosen_now()
    if instant is None:
        return None
    traveller = time_machine.travel(instant, tick=True)
    traveller.start()
    return traveller


# The hours tests work on. Each reads the clock when called (not at import), so that it
# follows JD_HELIX_TEST_NOW, or time-machine when a test moves the clock itself.


def now() -> datetime:
    """This instant in UTC, by the test clock."""
    return datetime.now(UTC)


def this_hour() -> datetime:
    """The start of the current UTC hour, by the test clock."""
    return now().replace(minute=0, second=0, microsecond=0)


def hours_ago(count: int) -> datetime:
    """The start of the UTC hour `count` hours before this one (inside the partitions, which
    reach back at least JD_HELIX_HISTORY_DAYS days, while `count` is under 48)."""
    return this_hour() - timedelta(hours=count)


def start_of_today() -> datetime:
    """Midnight UTC of the current day, by the test clock."""
    return this_hour().replace(hour=0)


def schedule_tick(ended_hour: datetime) -> datetime:
    """The instant the hourly schedule fires to run `ended_hour`: past the end of that hour by
    the schedule's minute (jd_helix/defs/)."""
    # Imported here: loading jd_helix's partitions reads the clock, which must be set first.
    from jd_helix.defs.hourly_sales.schedule import HOURLY_RUN_MINUTE

    return ended_hour + timedelta(hours=1, minutes=HOURLY_RUN_MINUTE)


def wall_clock_now() -> datetime:
    """The machine's own clock, even while JD_HELIX_TEST_NOW has moved this process's: for the
    processes Dagster starts (code servers, run workers, the daemon), which do not follow it."""
    hatch = time_machine.escape_hatch
    return datetime.fromtimestamp(hatch.time.time() if hatch.is_travelling() else time.time(), UTC)
