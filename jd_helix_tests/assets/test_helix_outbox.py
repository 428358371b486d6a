"""The outbox: what a helix_events run posts, read back from a file a few rows at a time."""

from datetime import UTC, timedelta
from pathlib import Path

import pytest

from jd_helix.defs.helix import outbox as helix_outbox
from jd_helix.defs.helix.outbox import Outbox
from jd_helix.resources.warehouse import WarehouseResource
from jd_helix_tests import clock

# The clock guard runs these at far instants too (test_same_verdict_at_far_instants.py).
pytestmark = pytest.mark.time_sensitive

HOUR = clock.hours_ago(2).replace(tzinfo=None)
HOUR_MS = int(HOUR.replace(tzinfo=UTC).timestamp() * 1000)
NEXT_HOUR = HOUR + timedelta(hours=1)

# transaction_id, hour, camera, ms, ledger status, attempts, item_name
ROWS = [
    ("p-b1", HOUR, "cam-b", HOUR_MS + 1, "pending", 0, "Shoe"),
    ("p-a2", HOUR, "cam-a", HOUR_MS + 2, "pending", 0, None),
    ("p-a1", HOUR, "cam-a", HOUR_MS + 1, "pending", 0, "Sock"),
    ("f-a3", HOUR, "cam-a", HOUR_MS + 3, "failed", 4, "Cap"),  # one attempt left
    ("f-a4", HOUR, "cam-a", HOUR_MS + 4, "failed", 5, "Cap"),  # none left
    ("posted", HOUR, "cam-a", HOUR_MS + 5, "posted", 1, "Cap"),
    ("skipped", HOUR, "cam-a", HOUR_MS + 6, "skipped", 0, "Cap"),
    ("next-hour", NEXT_HOUR, "cam-a", HOUR_MS + 3_600_001, "pending", 0, "Cap"),
]


@pytest.fixture
def warehouse(tmp_path):
    warehouse = WarehouseResource(database=str(tmp_path / "outbox.duckdb"))
    with warehouse.write() as conn:
        for tid, hour, camera, ms, status, attempts, item_name in ROWS:
            conn.execute(
                "INSERT INTO transaction_camera_events (sale_hour, transaction_id, transaction_at, time_ms, "
                "transaction_amount, item_id, item_name, verkada_camera_id, store_id) "
                "VALUES (?, ?, epoch_ms(?), ?, 12.50, 'i-1', ?, ?, 's-1')",
                [hour, tid, ms, ms, item_name, camera],
            )
            conn.execute(
                "INSERT INTO helix_events (transaction_id, sale_hour, verkada_camera_id, event_type_uid, time_ms, "
                "status, attempts) VALUES (?, ?, ?, 'type-1', ?, ?, ?)",
                [tid, hour, camera, ms, status, attempts],
            )
        conn.execute(  # p-a1 is flagged; the others have no row: no flag
            "INSERT INTO transaction_exceptions (sale_hour, transaction_id, transaction_at, transaction_amount, refund, "
            "high_value, price_override, after_hours, repeat_refunds, exceptions) "
            "VALUES (?, 'p-a1', ?, 12.50, false, true, false, false, false, 'high_value')",
            [HOUR, HOUR],
        )
    return warehouse


def test_the_hours_postable_events_come_back_in_camera_and_time_order_a_few_rows_at_a_time(warehouse, monkeypatch):
    monkeypatch.setattr(helix_outbox, "ROWS_PER_READ", 2)  # 4 events: two reads
    with warehouse.read() as conn, warehouse.staging_directory("helix_events") as staging:
        outbox = Outbox(staging, "type-1")
        assert outbox.fill(conn, HOUR, NEXT_HOUR, max_attempts=5) == 4
        events = list(outbox.events())
        [path] = outbox.files
        assert path.exists() and path.parent == staging
        assert staging.parent == Path(warehouse.database).parent  # beside the warehouse, not in /tmp
    assert not staging.exists()
    assert [(e.key, e.camera_id, e.time_ms) for e in events] == [
        ("p-a1", "cam-a", HOUR_MS + 1),
        ("p-a2", "cam-a", HOUR_MS + 2),
        ("f-a3", "cam-a", HOUR_MS + 3),
        ("p-b1", "cam-b", HOUR_MS + 1),
    ]
    assert all(e.event_type_uid == "type-1" for e in events)
    no_flags = {
        "refund": False,
        "high_value": False,
        "price_override": False,
        "after_hours": False,
        "repeat_refunds": False,
        "exceptions": "",
    }
    assert events[0].attributes == {
        "transaction_id": "p-a1",
        "transaction_amount": 12.5,
        "item_id": "i-1",
        "item_name": "Sock",
        "store_id": "s-1",
        **no_flags,
        "high_value": True,
        "exceptions": "high_value",
    }
    assert "item_name" not in events[1].attributes  # a missing value is left out, not sent as null
    assert all(events[i].attributes.items() >= no_flags.items() for i in (1, 2, 3))


def test_an_hour_with_nothing_to_post_gives_no_events(warehouse):
    with warehouse.write() as conn:
        conn.execute("UPDATE helix_events SET status = 'posted'")
    with warehouse.read() as conn, warehouse.staging_directory("helix_events") as staging:
        outbox = Outbox(staging, "type-1")
        assert outbox.fill(conn, HOUR, NEXT_HOUR, max_attempts=5) == 0
        assert list(outbox.events()) == []
