"""The clock guard: the time-sensitive tests (marked `time_sensitive`: they read "now" directly,
through Dagster's partitions, schedules or sensors, Helix's 30-day window, or a sandbox on the
real clock) give today's verdict at far instants too: the first hour of next month, a year
ahead, both clock changes of Europe/London, a leap day's last half hour and New Year's Eve's.

Each instant runs in a pytest of its own with JD_HELIX_TEST_NOW set (see clock.py), all at
once: most of their time is spent waiting (sandboxes, backoffs, batch jobs). The tests that
run Dagster's own processes (deploy/, recovery/) follow the machine's clock instead, which
time-machine cannot move there: the README ("Developing") says how to run the whole suite a
year ahead with faketime.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from jd_helix_tests.clock import TEST_NOW_VARIABLE
from jd_helix_tests.far_instants import far_instants, last_sunday_0100, next_leap_day_late_evening

PROJECT_ROOT = Path(__file__).resolve().parents[1]
MARKER = "time_sensitive"


def test_the_instants_are_the_ones_named():
    now = datetime(2026, 12, 7, 2, 1, tzinfo=UTC)
    utc = UTC
    assert far_instants(now) == {
        "next-month": datetime(2027, 1, 1, 0, 0, tzinfo=utc),
        "a-year-ahead": datetime(2027, 12, 7, 2, 1, tzinfo=utc),
        "london-to-summer-time": datetime(2027, 3, 28, 1, 0, tzinfo=utc),
        "london-to-winter-time": datetime(2027, 10, 31, 1, 0, tzinfo=utc),
        "leap-day": datetime(2028, 2, 29, 23, 30, tzinfo=utc),
        "new-years-eve": datetime(2026, 12, 31, 23, 30, tzinfo=utc),
    }
    assert last_sunday_0100(2026, 10) == datetime(2026, 10, 25, 1, 0, tzinfo=utc)  # the 31st is a Saturday
    assert next_leap_day_late_evening(datetime(2028, 3, 1, tzinfo=utc)) == datetime(2032, 2, 29, 23, 30, tzinfo=utc)
    assert far_instants(datetime(2028, 2, 29, 12, 0, tzinfo=utc))["a-year-ahead"] == datetime(
        2029, 2, 28, 12, 0, tzinfo=utc
    )


def marked_tests() -> list[str]:
    """The node ids of the suite's time-sensitive tests."""
    listing = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", "-m", MARKER],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [line for line in listing.splitlines() if "::" in line]


def start_run(instant: datetime, tests: list[str], folder: Path) -> subprocess.Popen:
    """The time-sensitive tests in a pytest of their own whose clock starts at `instant`."""
    folder.mkdir()
    modules = sorted({test.split("::", 1)[0] for test in tests})
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "--basetemp",
            str(folder / "tmp"),
            "-m",
            MARKER,
            *modules,
        ],
        cwd=PROJECT_ROOT,
        env={**os.environ, TEST_NOW_VARIABLE: instant.isoformat()},
        stdout=open(folder / "output.txt", "w"),
        stderr=subprocess.STDOUT,
    )


@pytest.mark.slow
def test_the_time_sensitive_tests_give_the_same_verdict_at_far_instants(tmp_path):
    tests = marked_tests()
    assert len(tests) > 20, tests
    instants = far_instants(datetime.now(UTC))
    runs = {name: start_run(instant, tests, tmp_path / name) for name, instant in instants.items()}
    try:
        for process in runs.values():
            process.wait(timeout=600)
    finally:
        for process in runs.values():
            if process.poll() is None:
                process.kill()
    for name, instant in instants.items():
        output = (tmp_path / name / "output.txt").read_text()
        assert f"test clock: {instant:%A %Y-%m-%d %H:%M} UTC ({TEST_NOW_VARIABLE})" in output, output[-3000:]
        assert runs[name].returncode == 0, f"at {name} ({instant:%Y-%m-%d %H:%M} UTC):\n{output[-6000:]}"
        summary = output.strip().splitlines()[-1]
        # All of them passed: nothing failed, skipped or left out at this instant.
        assert re.fullmatch(rf"=+ {len(tests)} passed(, \d+ deselected)?(, \d+ warnings?)? in .*", summary), (
            name,
            summary,
        )
