"""The ledger's promises, on a real DuckDB file: one free triple per sale, pinned for good."""

from datetime import datetime, timedelta, timezone

import pytest

from jd_helix.assets.helix_ledger import pin_window, postable_events, status_counts
from jd_helix.resources.warehouse import WarehouseResource

NOW = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0)
HOUR = (NOW - timedelta(hours=2)).replace(tzinfo=None)
HOUR_MS = int(HOUR.replace(tzinfo=timezone.utc).timestamp() * 1000)
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
    with warehouse.read() as conn:
        assert postable_events(conn, HOUR, HOUR + timedelta(hours=1), 5)["transaction_id"].tolist() == ["u1"]


def test_sales_older_than_helix_accepts_are_skipped_not_posted(warehouse):
    old_hour = (NOW - timedelta(days=31)).replace(tzinfo=None)
    old_ms = int(old_hour.replace(tzinfo=timezone.utc).timestamp() * 1000)
    add_sales(warehouse, [("old", "cam", old_ms)], hour=old_hour)
    summary = pin(warehouse, hour=old_hour)
    assert summary.too_old == 1
    with warehouse.read() as conn:
        status, reason = conn.execute("SELECT status, reason FROM helix_events").fetchone()
        assert postable_events(conn, old_hour, old_hour + timedelta(hours=1), 5).empty
    assert status == "skipped" and "30-day" in reason
