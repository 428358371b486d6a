"""The Helix ledger (`helix_events`): one row per sale, pinning its Helix triple before the
first attempt so that every retry re-sends the same event and no two sales share one.

A Helix event is the triple (camera, event type, time_ms) and re-posting a triple
replaces the event. So:
- a sale's triple is written here, in a committed transaction, before it is ever sent;
- a millisecond already taken on that camera and event type moves the sale to the next
  free millisecond (several sales on one till in one second all arrive);
- once pinned, a triple never changes, whatever re-runs, late sales or backfills come.
A crash anywhere then leaves rows `pending`, and the next run re-sends exactly those.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import pandas as pd

from jd_helix.clients.verkada.limits import HELIX_MAX_EVENT_AGE, HELIX_MAX_FUTURE
from jd_helix.helix_status import HelixStatus
from jd_helix.time_utils import epoch_ms

# A margin keeps an event that is about to leave Helix's window from being sent and then
# refused mid-run.
AGE_MARGIN = timedelta(minutes=10)


@dataclass(frozen=True)
class PinSummary:
    newly_pinned: int
    moved_to_free_ms: int
    newly_unmapped: int
    too_old: int


def assign_free_milliseconds(wanted: pd.DataFrame, taken: set[tuple[str, int]]) -> pd.Series:
    """For each row (camera_id, time_ms, transaction_id), its own free millisecond.

    Rows are served in (camera, time, transaction_id) order, so the result does not depend
    on the order the rows arrived in. `taken` is updated with what is handed out.
    """
    ordered = wanted.sort_values(["camera_id", "time_ms", "transaction_id"])
    # Plain lists: three pandas `.at` per row took over a minute for a 100,000-sale hour.
    assigned = []
    for camera, ms in zip(ordered["camera_id"].tolist(), ordered["time_ms"].tolist(), strict=True):
        ms = int(ms)
        while (camera, ms) in taken:
            ms += 1
        taken.add((camera, ms))
        assigned.append(ms)
    return pd.Series(assigned, index=ordered.index, dtype="int64").reindex(wanted.index)


def pin_window(
    conn, start: datetime, end: datetime, event_type_uid: str, now: datetime
) -> PinSummary:
    """Give every sale of [start, end) that has none yet its ledger row; call inside a transaction.

    `start`/`end` are naive UTC (as stored); `now` is aware.
    """
    _load_window_sales(conn, start, end)
    newly_unmapped = _record_unmapped(conn)
    wanted = conn.execute(
        """
        SELECT transaction_id, sale_hour, verkada_camera_id AS camera_id, time_ms
        FROM window_sales
        WHERE verkada_camera_id IS NOT NULL AND (ledger_status IS NULL OR ledger_status = ?)
        """,
        [HelixStatus.UNMAPPED],
    ).df()
    if wanted.empty:
        return PinSummary(0, 0, newly_unmapped, 0)
    too_old = _skip_what_helix_refuses(wanted, now)
    moved = _pin_free_milliseconds(conn, wanted, event_type_uid)
    _write_pinned(conn, wanted, event_type_uid, now)
    return PinSummary(
        newly_pinned=int((wanted["status"] == HelixStatus.PENDING).sum()),
        moved_to_free_ms=moved,
        newly_unmapped=newly_unmapped,
        too_old=too_old,
    )


def _load_window_sales(conn, start: datetime, end: datetime) -> None:
    """The window's sales with their ledger status (if any), as the temp table window_sales."""
    conn.execute(
        """
        CREATE OR REPLACE TEMP TABLE window_sales AS
        SELECT e.transaction_id, e.sale_hour, e.verkada_camera_id, e.time_ms, e.unmapped_reason,
               l.status AS ledger_status
        FROM transaction_camera_events e
        LEFT JOIN helix_events l USING (transaction_id)
        WHERE e.sale_hour >= ? AND e.sale_hour < ?
        """,
        [start, end],
    )


def _record_unmapped(conn) -> int:
    """Sales with no Verkada camera: recorded (or their reason refreshed), never dropped."""
    newly_unmapped = conn.execute(
        """
        INSERT INTO helix_events (transaction_id, sale_hour, status, reason, attempts)
        SELECT transaction_id, sale_hour, ?, unmapped_reason, 0 FROM window_sales
        WHERE verkada_camera_id IS NULL AND ledger_status IS NULL
        """,
        [HelixStatus.UNMAPPED],
    ).fetchone()[0]
    conn.execute(
        """
        UPDATE helix_events SET reason = w.unmapped_reason
        FROM window_sales w
        WHERE helix_events.transaction_id = w.transaction_id
          AND w.verkada_camera_id IS NULL AND helix_events.status = ?
        """,
        [HelixStatus.UNMAPPED],
    )
    return newly_unmapped


def _skip_what_helix_refuses(wanted: pd.DataFrame, now: datetime) -> int:
    """Set status/reason: pending, or skipped when Helix would refuse the instant. Returns how many are too old."""
    too_old = wanted["time_ms"] < epoch_ms(now - HELIX_MAX_EVENT_AGE + AGE_MARGIN)
    too_new = wanted["time_ms"] > epoch_ms(now + HELIX_MAX_FUTURE)
    wanted["status"] = HelixStatus.PENDING.value
    wanted["reason"] = None
    wanted.loc[too_old, "status"] = HelixStatus.SKIPPED.value
    wanted.loc[too_old, "reason"] = f"older than Helix's {HELIX_MAX_EVENT_AGE.days}-day window: Helix would refuse it"
    wanted.loc[too_new, "status"] = HelixStatus.SKIPPED.value
    wanted.loc[too_new, "reason"] = (
        f"more than {HELIX_MAX_FUTURE.seconds // 60} minutes in the future: Helix would refuse it"
    )
    return int(too_old.sum())


def _pin_free_milliseconds(conn, wanted: pd.DataFrame, event_type_uid: str) -> int:
    """Set pinned_ms for the pending rows (a free millisecond on their camera). Returns how many moved."""
    postable = wanted[wanted["status"] == HelixStatus.PENDING]
    taken_rows = conn.execute(
        """
        SELECT verkada_camera_id, time_ms FROM helix_events
        WHERE event_type_uid = ? AND list_contains(?, verkada_camera_id)
          AND time_ms BETWEEN ? AND ?
        """,
        [
            event_type_uid,
            postable["camera_id"].unique().tolist(),
            int(wanted["time_ms"].min()),
            int(wanted["time_ms"].max()) + len(wanted),
        ],
    ).fetchall()
    taken = {(camera, int(ms)) for camera, ms in taken_rows}
    wanted["pinned_ms"] = pd.Series(pd.NA, index=wanted.index, dtype="Int64")
    if not postable.empty:
        wanted.loc[postable.index, "pinned_ms"] = assign_free_milliseconds(postable, taken)
    return int(((wanted["pinned_ms"] != wanted["time_ms"]) & wanted["pinned_ms"].notna()).sum())


def _write_pinned(conn, wanted: pd.DataFrame, event_type_uid: str, now: datetime) -> None:
    wanted["event_type_uid"] = event_type_uid
    wanted["pinned_at"] = now.replace(tzinfo=None)
    conn.execute(
        "DELETE FROM helix_events WHERE list_contains(?, transaction_id)",
        [wanted["transaction_id"].tolist()],
    )
    conn.register("wanted_rows", wanted)
    conn.execute(
        """
        INSERT INTO helix_events (transaction_id, sale_hour, verkada_camera_id, event_type_uid,
                                  time_ms, status, reason, attempts, pinned_at)
        SELECT transaction_id, sale_hour, camera_id,
               CASE WHEN status = ? THEN event_type_uid END, pinned_ms, status, reason, 0,
               pinned_at
        FROM wanted_rows
        """,
        [HelixStatus.PENDING],
    )
    conn.unregister("wanted_rows")


def postable_events(conn, start: datetime, end: datetime, max_attempts: int) -> pd.DataFrame:
    """Ledger rows of the window that should be (re-)sent, with the event's attributes."""
    return conn.execute(
        """
        SELECT l.transaction_id, l.sale_hour, l.verkada_camera_id, l.event_type_uid, l.time_ms, l.attempts,
               e.transaction_amount, e.item_id, e.item_name, e.store_id, e.store_name,
               e.pos_id, e.pos_name
        FROM helix_events l
        JOIN transaction_camera_events e USING (transaction_id)
        WHERE l.sale_hour >= ? AND l.sale_hour < ?
          AND (l.status = ? OR (l.status = ? AND l.attempts < ?))
        ORDER BY l.verkada_camera_id, l.time_ms
        """,
        [start, end, HelixStatus.PENDING, HelixStatus.FAILED, max_attempts],
    ).df()


def record_outcomes(conn, outcomes: pd.DataFrame, attempted_at: datetime) -> None:
    """Write one batch's outcomes (columns key, status, reason) to the ledger."""
    conn.execute(
        """
        UPDATE helix_events
        SET status = o.status,
            reason = o.reason,
            attempts = attempts + 1,
            last_attempt_at = $at,
            posted_at = CASE WHEN o.status = $posted THEN $at ELSE posted_at END
        FROM outcomes o
        WHERE helix_events.transaction_id = o.key
        """,
        {"at": attempted_at.replace(tzinfo=None), "posted": HelixStatus.POSTED},
    )


def status_counts(conn, start: datetime, end: datetime) -> dict[str, int]:
    counts = dict(
        conn.execute(
            "SELECT status, count(*) FROM helix_events WHERE sale_hour >= ? AND sale_hour < ? GROUP BY 1",
            [start, end],
        ).fetchall()
    )
    return {status.value: int(counts.get(status, 0)) for status in HelixStatus}
