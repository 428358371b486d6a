"""The audit's comparison of Helix with the ledger, on a warehouse written by hand: by triple
and transaction id, for each of several event types, at the edges of the hour."""

from datetime import datetime, timedelta

import pyarrow as pa

from jd_helix.defs.audit.readback import HELD_SCHEMA
from jd_helix.defs.audit.reconcile import event_types_to_audit, reconcile, search_range
from jd_helix.domain.helix_status import HelixStatus
from jd_helix.resources.warehouse import WarehouseResource

HOUR = datetime(2026, 1, 5, 10)
SNAPSHOT = HOUR + timedelta(hours=3)
START_MS = int((HOUR - datetime(1970, 1, 1)).total_seconds() * 1000)
CAMERA = "cam-1"


def _ledger(conn, rows):
    for tid, type_uid, ms, status, hour in rows:
        conn.execute(
            "INSERT INTO transaction_camera_events (sale_hour, transaction_id, transaction_at, time_ms, transaction_amount, "
            "item_id, verkada_camera_id, store_id) VALUES (?, ?, ?, ?, 1.50, 'item', ?, 'store')",
            [hour, tid, hour, ms, CAMERA],
        )
        if status is not None:
            conn.execute(
                "INSERT INTO helix_events (transaction_id, sale_hour, verkada_camera_id, event_type_uid, time_ms, status, "
                "attempts, posted_at) VALUES (?, ?, ?, ?, ?, ?, 1, ?)",
                # An unmapped sale has its ledger row (and event type) but no triple.
                [
                    tid,
                    hour,
                    *((None, type_uid, None) if status == HelixStatus.UNMAPPED else (CAMERA, type_uid, ms)),
                    status,
                    HOUR + timedelta(hours=1),
                ],
            )


def _held(events) -> pa.Table:
    return pa.table(
        {name: [event[i] for event in events] for i, name in enumerate(HELD_SCHEMA.names)}, schema=HELD_SCHEMA
    )


def test_each_event_type_is_compared_on_its_own(tmp_path):
    warehouse = WarehouseResource(database=str(tmp_path / "w.duckdb"))
    end_ms = START_MS + 3_600_000
    with warehouse.write() as conn:
        _ledger(
            conn,
            [
                ("a1", "A", START_MS + 1, HelixStatus.POSTED, HOUR),  # held
                ("a2", "A", START_MS + 2, HelixStatus.POSTED, HOUR),  # lost
                ("a3", "A", end_ms, HelixStatus.POSTED, HOUR),  # moved past the hour's end, held
                ("a4", "A", START_MS + 4, HelixStatus.PENDING, HOUR),  # Helix has it: adopted
                ("a5", "A", START_MS + 5, HelixStatus.UNMAPPED, HOUR),  # Helix has one for it: adopted
                ("a6", None, START_MS + 6, None, HOUR),  # no ledger row (a restore): adopted
                ("b1", "B", START_MS + 1, HelixStatus.POSTED, HOUR),  # another type, same camera and ms: held
                ("b2", "B", START_MS + 2, HelixStatus.POSTED, HOUR),  # held
                ("p1", "A", START_MS - 1, HelixStatus.POSTED, HOUR - timedelta(hours=1)),  # the hour before
            ],
        )
        assert event_types_to_audit(conn, HOUR, HOUR + timedelta(hours=1)) == ["A", "B"]
        assert search_range(conn, HOUR, HOUR + timedelta(hours=1), "A") == (START_MS, end_ms + 60_000)
        held_a = _held(
            [
                (CAMERA, "A", START_MS + 1, "a1"),
                (CAMERA, "A", end_ms, "a3"),
                (CAMERA, "A", START_MS + 4, "a4"),
                (CAMERA, "A", START_MS + 5, "a5"),
                (CAMERA, "A", START_MS + 6, "a6"),
                (CAMERA, "A", START_MS + 7, "a6"),  # a second event for one sale: left alone
                (CAMERA, "A", START_MS + 9, "someone-else"),
            ]
        )
        audit_a, missing = reconcile(conn, held_a, HOUR, HOUR + timedelta(hours=1), "A", SNAPSHOT)
        held_b = _held([(CAMERA, "B", START_MS + 1, "b1"), (CAMERA, "B", START_MS + 2, "b2")])
        audit_b, missing_b = reconcile(conn, held_b, HOUR, HOUR + timedelta(hours=1), "B", SNAPSHOT)
        statuses = dict(conn.execute("SELECT transaction_id, status FROM helix_events").fetchall())
        a6 = conn.execute("SELECT event_type_uid, time_ms FROM helix_events WHERE transaction_id = 'a6'").fetchall()
    assert [(e.key, e.time_ms, e.attributes["transaction_amount"]) for e in missing] == [("a2", START_MS + 2, 1.5)]
    assert (audit_a.held, audit_a.missing, audit_a.adopted, audit_a.unknown) == (5, 1, 3, 2)
    assert (audit_b.held, audit_b.missing, audit_b.adopted, audit_b.unknown, missing_b) == (2, 0, 0, 0, [])
    assert {tid for tid, status in statuses.items() if status == HelixStatus.POSTED} >= {"a4", "a5", "a6"}
    assert a6 == [("A", START_MS + 6)]


def test_a_row_posted_after_the_snapshot_is_left_to_the_next_audit(tmp_path):
    warehouse = WarehouseResource(database=str(tmp_path / "w.duckdb"))
    with warehouse.write() as conn:
        _ledger(conn, [("a1", "A", START_MS + 1, HelixStatus.POSTED, HOUR)])
        conn.execute("UPDATE helix_events SET posted_at = ?", [SNAPSHOT + timedelta(seconds=1)])
        audit, missing = reconcile(conn, _held([]), HOUR, HOUR + timedelta(hours=1), "A", SNAPSHOT)
    assert (audit.missing, missing) == (0, [])
