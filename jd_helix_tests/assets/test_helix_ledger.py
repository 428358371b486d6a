"""The ledger's promises, on a real DuckDB file: one free triple per sale, pinned for good."""

from datetime import UTC, timedelta
from unittest.mock import patch

import duckdb
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jd_helix.defs.helix import ledger as helix_ledger
from jd_helix.defs.helix.ledger import pin_window, status_counts
from jd_helix.defs.helix.outbox import Outbox
from jd_helix.resources.migrations import migrate
from jd_helix.resources.warehouse import WarehouseResource
from jd_helix_tests import clock

# The clock guard runs these at far instants too (test_same_verdict_at_far_instants.py).
pytestmark = pytest.mark.time_sensitive

NOW = clock.this_hour()
HOUR = (NOW - timedelta(hours=2)).replace(tzinfo=None)
HOUR_MS = int(HOUR.replace(tzinfo=UTC).timestamp() * 1000)
TYPE = "type-1"


@pytest.fixture
def warehouse(tmp_path):
    return WarehouseResource(database=str(tmp_path / "ledger.duckdb"))


def add_sales(warehouse, sales, hour=HOUR):
    """sales: (transaction_id, verkada_camera_id or None, time_ms)."""
    with warehouse.write() as conn:
        for transaction_id, camera, time_ms in sales:
            conn.execute(
                "INSERT INTO transaction_camera_events (sale_hour, transaction_id, transaction_at, "
                "time_ms, transaction_amount, verkada_camera_id, unmapped_reason) "
                "VALUES (?, ?, epoch_ms(?), ?, 1.00, ?, ?)",
                [hour, transaction_id, time_ms, time_ms, camera, None if camera else "no camera"],
            )


def pin(warehouse, hour=HOUR):
    with warehouse.write() as conn:
        return pin_window(conn, hour, hour + timedelta(hours=1), TYPE, NOW)


def to_post(warehouse, hour=HOUR):
    """The keys of the events a run would post for the hour, in the order it would post them."""
    with warehouse.read() as conn, warehouse.staging_directory("helix_events") as staging:
        outbox = Outbox(staging, TYPE)
        outbox.fill(conn, hour, hour + timedelta(hours=1), 5)
        return [event.key for event in outbox.events()]


def triples(warehouse):
    with warehouse.read() as conn:
        return {
            tid: (camera, ms)
            for tid, camera, ms in conn.execute(
                "SELECT transaction_id, verkada_camera_id, time_ms FROM helix_events WHERE time_ms IS NOT NULL"
            ).fetchall()
        }


def test_sales_sharing_a_camera_and_millisecond_get_neighbouring_free_ones(warehouse):
    second = HOUR_MS + 60_000
    add_sales(warehouse, [("t3", "cam", second), ("t1", "cam", second), ("t2", "cam", second), ("t4", "other", second)])
    summary = pin(warehouse)
    assert triples(warehouse) == {
        "t1": ("cam", second),
        "t2": ("cam", second + 1),
        "t3": ("cam", second + 2),
        "t4": ("other", second),
    }
    assert summary.newly_pinned == 4 and summary.moved_to_free_ms == 2


def test_a_pinned_triple_never_moves_and_a_late_sale_takes_the_next_free_millisecond(warehouse):
    second = HOUR_MS + 5_000
    add_sales(warehouse, [("early", "cam", second)])
    pin(warehouse)
    before = triples(warehouse)
    # A late sale on the same camera and millisecond arrives with the hour's re-run.
    add_sales(warehouse, [("late", "cam", second)])
    pin(warehouse)
    pin(warehouse)
    after = triples(warehouse)
    assert after["early"] == before["early"]
    assert after["late"] == ("cam", second + 1)


def test_unmapped_sales_are_kept_and_pinned_once_a_camera_appears(warehouse):
    add_sales(warehouse, [("u1", None, HOUR_MS)])
    pin(warehouse)
    with warehouse.read() as conn:
        assert status_counts(conn, HOUR, HOUR + timedelta(hours=1))["unmapped"] == 1
    with warehouse.write() as conn:
        conn.execute("UPDATE transaction_camera_events SET verkada_camera_id = 'cam', unmapped_reason = NULL")
    pin(warehouse)
    assert triples(warehouse) == {"u1": ("cam", HOUR_MS)}
    assert to_post(warehouse) == ["u1"]


def test_sales_older_than_helix_accepts_are_skipped_not_posted(warehouse):
    old_hour = (NOW - timedelta(days=31)).replace(tzinfo=None)
    old_ms = int(old_hour.replace(tzinfo=UTC).timestamp() * 1000)
    add_sales(warehouse, [("old", "cam", old_ms)], hour=old_hour)
    summary = pin(warehouse, hour=old_hour)
    assert summary.too_old == 1
    with warehouse.read() as conn:
        status, reason = conn.execute("SELECT status, reason FROM helix_events").fetchone()
    assert to_post(warehouse, hour=old_hour) == []
    assert status == "skipped" and "30-day" in reason


@pytest.fixture(scope="module")
def memory_ledger():
    with duckdb.connect() as conn:
        migrate(conn)
        yield conn


def greedy_free_milliseconds(wanted, taken):
    """The rule, as a plain loop: sales in (camera, ms, id) order, each to the first ms at or
    after its own that nothing holds on its camera; what it takes is then held."""
    held = set(taken)
    pinned = {}
    for transaction_id, camera, ms in sorted(wanted, key=lambda sale: (sale[1], sale[2], sale[0])):
        while (camera, ms) in held:
            ms += 1
        held.add((camera, ms))
        pinned[transaction_id] = (camera, ms)
    return pinned


CAMERAS = st.sampled_from(["cam-a", "cam-b", "cam-c"])


@settings(max_examples=40, deadline=None)
@given(
    sales=st.lists(st.tuples(CAMERAS, st.integers(0, 20)), min_size=1, max_size=30),
    taken=st.sets(st.tuples(CAMERAS, st.integers(-5, 40)), max_size=25),
    other_type=st.sets(st.tuples(CAMERAS, st.integers(0, 20)), max_size=5),
    part_rows=st.sampled_from([helix_ledger.PIN_PART_ROWS, 7]),
)
def test_pinning_in_sql_gives_each_sale_what_the_greedy_loop_gives(memory_ledger, sales, taken, other_type, part_rows):
    """Crowded milliseconds around triples already pinned (and ones of another event type,
    which are not in the way): the window functions hand out what the loop would, in one
    part or in several."""
    wanted = [(f"t{i:02d}", camera, HOUR_MS + ms) for i, (camera, ms) in enumerate(sales)]
    held = [(camera, HOUR_MS + ms) for camera, ms in taken]
    conn = memory_ledger
    conn.begin()  # each example rolled back: one database for all of them
    try:
        sales_rows = pd.DataFrame(wanted, columns=["transaction_id", "camera", "ms"])  # noqa: F841 - read by DuckDB
        conn.execute(
            "INSERT INTO transaction_camera_events (sale_hour, transaction_id, transaction_at, time_ms, "
            "transaction_amount, verkada_camera_id) SELECT ?, transaction_id, epoch_ms(ms), ms, 1.00, camera FROM sales_rows",
            [HOUR],
        )
        ledger_rows = pd.DataFrame(  # noqa: F841 - read by DuckDB
            [(f"held{i}", camera, TYPE, ms) for i, (camera, ms) in enumerate(held)]
            + [(f"other{i}", camera, "type-2", HOUR_MS + ms) for i, (camera, ms) in enumerate(other_type)],
            columns=["transaction_id", "camera", "event_type_uid", "ms"],
        )
        conn.execute(
            "INSERT INTO helix_events (transaction_id, sale_hour, verkada_camera_id, event_type_uid, time_ms, status) "
            "SELECT transaction_id, ?, camera, event_type_uid, ms::BIGINT, 'posted' FROM ledger_rows",
            [HOUR],
        )
        with patch.object(helix_ledger, "PIN_PART_ROWS", part_rows):
            summary = pin_window(conn, HOUR, HOUR + timedelta(hours=1), TYPE, NOW)
        got = {
            tid: (camera, ms)
            for tid, camera, ms in conn.execute(
                "SELECT transaction_id, verkada_camera_id, time_ms FROM helix_events WHERE transaction_id LIKE 't%'"
            ).fetchall()
        }
    finally:
        conn.rollback()
    expected = greedy_free_milliseconds(wanted, held)
    assert got == expected
    assert summary.newly_pinned == len(wanted)
    assert summary.moved_to_free_ms == sum(expected[tid][1] != ms for tid, _, ms in wanted)
