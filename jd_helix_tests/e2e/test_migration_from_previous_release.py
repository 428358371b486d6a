"""A warehouse the previous release wrote (its exact schema, with posted rows) opens with this
release, migrates in place, and nothing already posted is posted again."""

import pytest

from jd_helix.domain.helix_status import HelixStatus
from jd_helix.resources.migrations import LATEST_VERSION
from jd_helix.sandbox import Sandbox, SandboxConfig
from jd_helix_tests.e2e.harness import (
    naive,
    query,
    recent_hours,
    refresh_dimensions,
    resources_for,
    run_hour,
    run_hours,
)
from jd_helix_tests.resources.previous_release import write_previous_release_warehouse

POSTED_HOUR, NEW_HOUR = recent_hours(2)
LEDGER = "SELECT transaction_id, verkada_camera_id, event_type_uid, time_ms, status, attempts, posted_at FROM helix_events WHERE sale_hour = ? ORDER BY 1"


@pytest.fixture(scope="module")
def sandbox():
    config = SandboxConfig(seed=23, fixed_sales_per_hour=300, rate_limit_per_5s=None, rate_limit_per_minute=None)
    with Sandbox.running(config, port=0) as running:
        yield running


def test_a_previous_release_warehouse_migrates_in_place_and_posts_nothing_twice(sandbox, tmp_path):
    # The previous release's warehouse: its schema, holding an hour it posted (the rows come
    # from a run of the pipeline, copied column by column into that schema).
    written = str(tmp_path / "written.duckdb")
    resources = resources_for(sandbox, written)
    assert refresh_dimensions(resources).success
    assert run_hour(resources, POSTED_HOUR).success
    previous = str(tmp_path / "previous_release.duckdb")
    write_previous_release_warehouse(previous, rows_from=written)
    assert query(
        previous,
        "SELECT count(*) FROM duckdb_tables() WHERE table_name IN ('schema_migrations', 'transaction_exceptions')",
    ) == [(0,)]
    ledger_before = query(previous, LEDGER, [naive(POSTED_HOUR)])
    posted = {(camera, uid, ms) for _, camera, uid, ms, status, _, _ in ledger_before if status == HelixStatus.POSTED}
    assert len(posted) > 200
    never_sent = [row for row in ledger_before if row[2] is None]
    assert never_sent and all(row[4] in (HelixStatus.UNMAPPED, HelixStatus.SKIPPED) for row in never_sent)
    [(uid,)] = query(previous, "SELECT event_type_uid FROM helix_destination")

    # This release opens it, re-runs the posted hour and runs the next one.
    writes_before = len(sandbox.helix_writes())
    assert run_hours(resources_for(sandbox, previous), POSTED_HOUR, NEW_HOUR).success

    assert query(previous, "SELECT max(version) FROM schema_migrations") == [(LATEST_VERSION,)]
    new_writes = sandbox.helix_writes()[writes_before:]
    assert not posted & {(w["camera_id"], w["event_type_uid"], w["time_ms"]) for w in new_writes}, "posted again"
    # The ledger, now one row per (sale, event type): the rows that had no event type have the
    # one the ledger posts to, nothing else changed, and no sale has two rows.
    assert query(previous, LEDGER, [naive(POSTED_HOUR)]) == [
        (row[0], row[1], row[2] or uid, *row[3:]) for row in ledger_before
    ]
    new_hour_posted = query(
        previous,
        "SELECT count(*) FROM helix_events WHERE sale_hour = ? AND status = ?",
        [naive(NEW_HOUR), HelixStatus.POSTED],
    )[0][0]
    assert new_hour_posted > 200 and len(new_writes) == new_hour_posted
    # The new hour's events carry the refund flag and the exception attributes.
    assert all(isinstance(w["attributes"]["refund"], bool) and "exceptions" in w["attributes"] for w in new_writes)
