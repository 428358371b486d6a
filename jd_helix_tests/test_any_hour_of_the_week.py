"""The suite's verdict does not depend on the hour of the week: the tests whose hours follow
"now" pass with the clock set to a dead Sunday night and to a busy Friday evening.

Each instant runs in a pytest of its own with JD_HELIX_TEST_NOW set (see clock.py). The
instants are the latest such hours before the real now, so that anything the faked clock
might not reach still agrees with it about Helix's 30-day window.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

from jd_helix_tests.clock import TEST_NOW_VARIABLE

PROJECT_ROOT = Path(__file__).resolve().parents[1]
# The tests that pick their hours (or their volume of sales, before issue 11) from the clock.
TIME_SENSITIVE = [
    "jd_helix_tests/chaos/test_chaos.py",
    "jd_helix_tests/e2e/test_remap.py",
    "jd_helix_tests/e2e/test_hourly_pipeline.py::test_footage_links_are_recorded_when_switched_on_within_their_budget",
    "jd_helix_tests/e2e/test_checks.py::test_unmapped_share_warns_when_too_many_sales_have_no_camera",
    "jd_helix_tests/chaos/test_crash.py::test_events_left_pending_by_a_run_killed_for_good_are_picked_up_by_the_retry_sensor",
    "jd_helix_tests/test_automation.py",
    "jd_helix_tests/assets/test_helix_ledger.py",
]


def latest(weekday: int, hour: int, before: datetime) -> datetime:
    """The latest `weekday` (Monday = 0) at `hour`:00 UTC strictly before `before`."""
    days_back = (before.weekday() - weekday) % 7
    candidate = before.replace(hour=hour, minute=0, second=0, microsecond=0) - timedelta(days=days_back)
    return candidate if candidate < before else candidate - timedelta(days=7)


def test_latest_finds_the_last_such_hour_of_the_week():
    sunday_morning = datetime(2026, 11, 29, 9, 37, tzinfo=timezone.utc)
    assert latest(6, 4, sunday_morning) == datetime(2026, 11, 29, 4, 0, tzinfo=timezone.utc)
    assert latest(6, 10, sunday_morning) == datetime(2026, 11, 22, 10, 0, tzinfo=timezone.utc)
    assert latest(4, 18, sunday_morning) == datetime(2026, 11, 27, 18, 0, tzinfo=timezone.utc)


def start_run(instant: datetime, folder: Path) -> subprocess.Popen:
    """The time-sensitive tests in a pytest of their own whose clock starts at `instant`."""
    folder.mkdir()
    return subprocess.Popen(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--basetemp", str(folder / "tmp"), *TIME_SENSITIVE],
        cwd=PROJECT_ROOT,
        env={**os.environ, TEST_NOW_VARIABLE: instant.isoformat()},
        stdout=open(folder / "output.txt", "w"),
        stderr=subprocess.STDOUT,
    )


def test_the_time_sensitive_tests_give_the_same_verdict_on_a_quiet_sunday_and_a_busy_friday(tmp_path):
    now = datetime.now(timezone.utc)
    instants = {"sunday-04h": latest(6, 4, now), "friday-18h": latest(4, 18, now)}
    # Both at once: most of their time is spent waiting (backoffs, cool-downs, batch jobs).
    runs = {name: start_run(instant, tmp_path / name) for name, instant in instants.items()}
    try:
        for process in runs.values():
            process.wait(timeout=600)
    finally:
        for process in runs.values():
            if process.poll() is None:
                process.kill()
    passed = {}
    for name, instant in instants.items():
        output = (tmp_path / name / "output.txt").read_text()
        assert f"test clock: {instant:%A %Y-%m-%d %H:%M} UTC ({TEST_NOW_VARIABLE})" in output, output[-3000:]
        assert runs[name].returncode == 0, f"at {instant:%A %H:%M} UTC:\n{output[-6000:]}"
        summary = output.strip().splitlines()[-1]
        assert re.fullmatch(r"=+ \d+ passed in .*", summary), summary  # nothing skipped, failed or deselected
        passed[name] = int(summary.split()[1])
    assert passed["sunday-04h"] == passed["friday-18h"] > len(TIME_SENSITIVE)
