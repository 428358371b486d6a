"""The suite's lanes, marked by folder at collection so that no test needs marking by hand:

- deploy: whole deployments as real processes (Dagster daemons, `dagster dev`, PostgreSQL);
- e2e: the real assets against a sandbox over loopback HTTP, into a real DuckDB file;
- slow: tens of seconds or more on its own (the clock guard, subprocesses, a wheel build,
  thousands of records or Hypothesis examples);
- unit: everything else, each test in a second or so: `make test-fast` runs this lane.

A test's own `slow` mark takes it out of the unit lane too.
"""

from __future__ import annotations

import pytest

DEPLOY = (
    "jd_helix_tests/deploy/",
    "jd_helix_tests/recovery/",
    "jd_helix_tests/test_dev_stops_on_ctrl_c.py",
    "jd_helix_tests/test_dev_sandbox_watchdog.py",
)
E2E = (
    "jd_helix_tests/e2e/",
    "jd_helix_tests/chaos/",
    "jd_helix_tests/backups/",  # backups taken while real runs write, restores, the next hours
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
    "jd_helix_tests/test_catch_up.py",  # Dagster's automation evaluated over every asset
    # subprocesses: a wheel in a venv of its own, the code location loaded, the sandbox command
    "jd_helix_tests/test_warehouse_path.py::test_a_non_editable_install_keeps_the_warehouse_under_the_working_directory",
    "jd_helix_tests/test_definitions.py::test_loading_the_code_location_prints_no_warning",
    "jd_helix_tests/sandbox/test_cli.py::test_sandbox_command_serves_until_stopped",
    # many thousands of records or Hypothesis examples
    "jd_helix_tests/clients/test_jd_records.py::test_no_record_crashes_the_page_and_none_is_lost",
    "jd_helix_tests/clients/test_jd_records.py::test_the_page_is_parsed_as_one_record_at_a_time_would",
    "jd_helix_tests/sandbox/test_truth_and_oddities.py::test_every_oddity_appears_at_about_its_rate",
    "jd_helix_tests/sandbox/test_truth_and_oddities.py::test_truth_agrees_with_served_records",
    "jd_helix_tests/sandbox/test_truth_and_oddities.py::test_duplicates_also_cross_pages",
    "jd_helix_tests/assets/test_helix_ledger.py::test_pinning_in_sql_gives_each_sale_what_the_greedy_loop_gives",
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
