"""The tests' clock: JD_HELIX_TEST_NOW=<ISO instant with offset> makes the whole test
session start at that instant and tick on from there, so a run can be placed at any
hour of the week (the sandbox's sales follow the hour; Helix's 30-day window, the
retry sensor and "recent hours" follow "now"). Unset, the real clock is used.

time-machine patches the standard library's clocks (datetime.now, time.time, ...) in
this process only, so that no production module needs a clock of its own; a
subprocess a test starts follows the same instant by calling `follow_test_clock()`
first (the variable reaches it through the environment).
"""

from __future__ import annotations

import os
from datetime import datetime

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
        raise ValueError(f"{TEST_NOW_VARIABLE}={value!r} is not an ISO instant, e.g. 2026-11-29T04:00:00+00:00") from None
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
