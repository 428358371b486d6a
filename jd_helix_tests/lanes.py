"""The suite's lanes, marked by folder at collection so that no test needs marking by hand:

- deploy: whole deployments as real processes (Dagster daemons, `dagster dev`, PostgreSQL);
- e2e: the real assets against a sandbox over loopback HTTP, into a real DuckDB file;
- slow: a test of its own that takes a minute or more (the clock guard, building the wheel);
- unit: everything else, each test in a second or so: `make test-fast` runs this lane.

A test's own `slow` mark takes it out of the unit lane too.
"""

from __future__ import annotations

import pytest

DEPLOY = (
    "jd_helix_tests/deploy/",
    "jd_helix_tests/recovery/",
    "jd_helix_tests/test_dev_stops_on_ctrl_c.py",
)
E2E = (
    "jd_helix_tests/e2e/",
    "jd_helix_tests/chaos/",
    "jd_helix_tests/api/",  # one warehouse built by real runs against a sandbox
    "jd_helix_tests/pools/",
    "jd_helix_tests/assets/test_helix_destination.py",
    "jd_helix_tests/test_notifications.py",
    "jd_helix_tests/test_api_settings.py",
)
SLOW = (
    "jd_helix_tests/test_same_verdict_at_far_instants.py::test_the_time_sensitive_tests_give_the_same_verdict_at_far_instants",
    "jd_helix_tests/test_dg_check.py",
    "jd_helix_tests/test_frozen_heap.py",
)


def lane_of(nodeid: str) -> str:
    for lane, prefixes in (("deploy", DEPLOY), ("e2e", E2E), ("slow", SLOW)):
        if nodeid.startswith(prefixes):
            return lane
    return "unit"


def mark_lanes(items: list[pytest.Item]) -> None:
    for item in items:
        lane = lane_of(item.nodeid)
        if lane == "unit" and item.get_closest_marker("slow"):
            continue
        item.add_marker(lane)
