"""The Helix ledger (`helix_events`): one row per (sale, event type), keyed by both, pinning
its Helix triple before the first attempt so that every retry re-sends the same event and no
two sales share one. Everything here works on the rows of one event type.

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
import pyarrow as pa

from jd_helix.clients.verkada.limits import HELIX_MAX_EVENT_AGE, HELIX_MAX_FUTURE
from jd_helix.defs.helix.camera_parts import CameraPart
from jd_helix.domain.helix_status import HelixStatus
from jd_helix.domain.time_utils import epoch_ms
from jd_helix.resources.warehouse import single_row

# A margin keeps an event that is about to leave Helix's window from being sent and then
# refused mid-run.
AGE_MARGIN = timedelta(minutes=10)
TOO_OLD_REASON = f"older than Helix's {HELIX_MAX_EVENT_AGE.days}-day window: Helix would refuse it"
PIN_PART_ROWS = 250_000  # sales pinned per part; the hour is pinned camera by camera in parts of about this
TOO_NEW_REASON = f"more than {HELIX_MAX_FUTURE.seconds // 60} minutes in the future: Helix would refuse it"


@dataclass(frozen=True)
class PinSummary:
    newly_pinned: int
    moved_to_free_ms: int
    newly_unmapped: int
    too_old: int


def pin_window(
    conn,
    start: datetime,
    end: datetime,
    event_type_uid: str,
    now: datetime,
    takes_sql: str = "true",
    takes_params: dict | None = None,
) -> PinSummary:
    """Give every sale of [start, end) that the event type takes (`takes_sql`, a condition over
    the sale `e` and its flags `x`: EventType.takes_sql, whose values `takes_params` binds) and
    that has none yet its ledger row
    for the type; call inside a transaction.

    `start`/`end` are naive UTC (as stored); `now` is aware. All in DuckDB, the hour never
    in Python; and camera by camera in parts of about PIN_PART_ROWS sales (a camera's sales
    all in one part: the free milliseconds are per camera), so that DuckDB's working memory
    stays about the same whatever the hour's size.
    """
    takes_params = takes_params or {}
    newly_unmapped = _record_unmapped(conn, start, end, event_type_uid, takes_sql, takes_params)
    mapped = single_row(
        conn.execute(
            "SELECT count(verkada_camera_id) FROM transaction_camera_events WHERE sale_hour >= ? AND sale_hour < ?",
            [start, end],
        )
    )[0]
    newly_pinned = moved = too_old = 0
    for part in CameraPart.all(mapped, PIN_PART_ROWS):
        wanted = _load_wanted(conn, start, end, now, part, event_type_uid, takes_sql, takes_params)
        pending, old = single_row(
            conn.execute(
                "SELECT count(*) FILTER (WHERE status = ?), count(*) FILTER (WHERE too_old) FROM wanted",
                [HelixStatus.PENDING],
            )
        )
        if wanted.num_rows:
            pinned = _pin_free_milliseconds(conn, wanted, event_type_uid)
            moved += int(single_row(conn.execute("SELECT count(*) FROM pinned WHERE pinned_ms <> time_ms"))[0])
            _write_pinned(conn, wanted, pinned, event_type_uid, now)
        newly_pinned, too_old = newly_pinned + pending, too_old + old
    return PinSummary(newly_pinned=newly_pinned, moved_to_free_ms=moved, newly_unmapped=newly_unmapped, too_old=too_old)


# The transactions of the window an event type takes: its sales `e` and their flags `x`.
_TAKEN_SALES = """
FROM transaction_camera_events e
LEFT JOIN transaction_exceptions x ON x.transaction_id = e.transaction_id AND x.sale_hour = e.sale_hour
"""


def _record_unmapped(
    conn, start: datetime, end: datetime, event_type_uid: str, takes_sql: str, takes_params: dict
) -> int:
    """Sales with no Verkada camera: recorded (or their reason refreshed), never dropped."""
    window = {"start": start, "end": end, "unmapped": HelixStatus.UNMAPPED, "event_type_uid": event_type_uid}
    newly_unmapped = single_row(
        conn.execute(
            f"""
            INSERT INTO helix_events (transaction_id, sale_hour, event_type_uid, status, reason, attempts)
            SELECT e.transaction_id, e.sale_hour, $event_type_uid, $unmapped, e.unmapped_reason, 0
            {_TAKEN_SALES}
            LEFT JOIN helix_events l ON l.transaction_id = e.transaction_id AND l.event_type_uid = $event_type_uid
            WHERE e.sale_hour >= $start AND e.sale_hour < $end
              AND e.verkada_camera_id IS NULL AND l.status IS NULL AND ({takes_sql})
            """,
            {**window, **takes_params},
        )
    )[0]
    conn.execute(
        """
        UPDATE helix_events SET reason = e.unmapped_reason
        FROM transaction_camera_events e
        WHERE helix_events.transaction_id = e.transaction_id AND helix_events.event_type_uid = $event_type_uid
          AND e.sale_hour >= $start AND e.sale_hour < $end
          AND e.verkada_camera_id IS NULL AND helix_events.status = $unmapped
        """,
        window,
    )
    return int(newly_unmapped)


def _load_wanted(
    conn,
    start: datetime,
    end: datetime,
    now: datetime,
    part: CameraPart,
    event_type_uid: str,
    takes_sql: str,
    takes_params: dict,
) -> pa.Table:
    """The part's sales to pin (a camera, no triple yet): pending, or skipped when Helix would
    refuse the instant.

    An Arrow table that the next queries read (DuckDB finds it by its variable's name), not a
    temp table: a temp table replaced inside the pinning transaction keeps every part's copy
    until the commit (~130 MB at 1,000,000 sales); this one is freed after its part."""
    return conn.sql(
        f"""
        SELECT e.transaction_id, e.sale_hour, e.verkada_camera_id AS camera_id, e.time_ms,
               e.time_ms < $oldest AS too_old,
               CASE WHEN e.time_ms < $oldest OR e.time_ms > $newest THEN $skipped ELSE $pending END AS status,
               CASE WHEN e.time_ms > $newest THEN $too_new_reason WHEN e.time_ms < $oldest THEN $too_old_reason END AS reason
        {_TAKEN_SALES}
        LEFT JOIN helix_events l ON l.transaction_id = e.transaction_id AND l.event_type_uid = $event_type_uid
        WHERE e.sale_hour >= $start AND e.sale_hour < $end AND e.verkada_camera_id IS NOT NULL
          AND hash(e.verkada_camera_id) % $parts = $part
          AND (l.status IS NULL OR l.status = $unmapped) AND ({takes_sql})
        """,
        params={
            "start": start,
            "end": end,
            **part.params,
            "oldest": epoch_ms(now - HELIX_MAX_EVENT_AGE + AGE_MARGIN),
            "newest": epoch_ms(now + HELIX_MAX_FUTURE),
            "skipped": HelixStatus.SKIPPED,
            "pending": HelixStatus.PENDING,
            "unmapped": HelixStatus.UNMAPPED,
            "too_old_reason": TOO_OLD_REASON,
            "too_new_reason": TOO_NEW_REASON,
            "event_type_uid": event_type_uid,
            **takes_params,
        },
    ).to_arrow_table()


# Each pending sale gets the first free millisecond at or after its own on its camera (for
# this event type), the sales of a camera served in (time_ms, transaction_id) order, so the
# result does not depend on the order they arrived in: sale i takes the first free ms after
# both its own ms and sale i-1's. Done with window functions instead of a loop, on the ranks
# of the free milliseconds: free ms x has rank x - (taken ms below x), so free ms and ranks
# go up together one for one, the first free ms at or after t has rank t - (taken below t),
# and sale i's rank is max(its own, sale i-1's + 1) = i + the running max of (own rank - i).
# A rank r is the ms r + (taken ms whose ms - (taken below it) <= r).
# Taken ms below a camera's first wanted ms are left out: they lie below every ms considered.
_POSTABLE = """
postable AS (
    SELECT transaction_id, camera_id, time_ms FROM wanted WHERE status = $pending
),
cameras AS (
    SELECT camera_id, min(time_ms) AS first_ms FROM postable GROUP BY camera_id
),
taken AS (
    SELECT l.verkada_camera_id AS camera_id, l.time_ms AS ms,
           row_number() OVER (PARTITION BY l.verkada_camera_id ORDER BY l.time_ms) - 1 AS below
    FROM helix_events l JOIN cameras c ON l.verkada_camera_id = c.camera_id AND l.time_ms >= c.first_ms
    WHERE l.event_type_uid = $event_type_uid
)"""
_SERVED = """
served AS (
    SELECT transaction_id, camera_id, time_ms,
           i + max(own_rank - i) OVER (PARTITION BY camera_id ORDER BY i ROWS UNBOUNDED PRECEDING) AS free_rank
    FROM ranked
)"""
_SALE_ORDER = "row_number() OVER (PARTITION BY p.camera_id ORDER BY p.time_ms, p.transaction_id) - 1 AS i"
FREE_MILLISECONDS_SQL = f"""
WITH {_POSTABLE},
ranked AS (
    SELECT p.transaction_id, p.camera_id, p.time_ms,
           p.time_ms - coalesce(t.below + 1, 0) AS own_rank, {_SALE_ORDER}
    FROM postable p ASOF LEFT JOIN taken t ON p.camera_id = t.camera_id AND p.time_ms > t.ms
),{_SERVED},
steps AS (
    SELECT camera_id, ms - below AS rank_from, max(below) + 1 AS taken_below FROM taken GROUP BY ALL
)
SELECT s.transaction_id, s.time_ms, s.free_rank + coalesce(st.taken_below, 0) AS pinned_ms
FROM served s ASOF LEFT JOIN steps st ON s.camera_id = st.camera_id AND s.free_rank >= st.rank_from
"""
# The common case, nothing taken on the part's cameras at or after their first wanted ms (a
# new hour): every rank is its millisecond, and the two ASOF joins are left out (DuckDB sorts
# and holds their left side even against nothing: ~100 MB at 250,000 sales).
NOTHING_TAKEN_SQL = f"""
WITH {_POSTABLE},
ranked AS (
    SELECT p.transaction_id, p.camera_id, p.time_ms, p.time_ms AS own_rank, {_SALE_ORDER} FROM postable p
),{_SERVED}
SELECT transaction_id, time_ms, free_rank AS pinned_ms FROM served
"""
ANY_TAKEN_SQL = f"WITH {_POSTABLE} SELECT count(*) > 0 FROM (SELECT * FROM taken LIMIT 1)"


def _pin_free_milliseconds(conn, wanted: pa.Table, event_type_uid: str) -> pa.Table:
    """A free millisecond for each pending sale of `wanted` (transaction_id, time_ms, pinned_ms)."""
    params = {"pending": HelixStatus.PENDING, "event_type_uid": event_type_uid}
    if single_row(conn.execute(ANY_TAKEN_SQL, params))[0]:
        return conn.sql(FREE_MILLISECONDS_SQL, params=params).to_arrow_table()
    return conn.sql(NOTHING_TAKEN_SQL, params=params).to_arrow_table()


def _write_pinned(conn, wanted: pa.Table, pinned: pa.Table, event_type_uid: str, now: datetime) -> None:
    """The wanted rows into the ledger (an unmapped sale's row replaced), in the order the
    posting reads them (camera, ms), so that each batch's outcomes update neighbouring rows."""
    conn.execute(
        "DELETE FROM helix_events WHERE event_type_uid = $event_type_uid AND transaction_id IN (SELECT transaction_id FROM wanted)",
        {"event_type_uid": event_type_uid},
    )
    conn.execute(
        """
        INSERT INTO helix_events (transaction_id, sale_hour, verkada_camera_id, event_type_uid,
                                  time_ms, status, reason, attempts, pinned_at)
        SELECT w.transaction_id, w.sale_hour, w.camera_id,
               $event_type_uid, p.pinned_ms, w.status, w.reason, 0, $now
        FROM wanted w LEFT JOIN pinned p USING (transaction_id)
        ORDER BY w.camera_id, p.pinned_ms
        """,
        {"event_type_uid": event_type_uid, "now": now.replace(tzinfo=None)},
    ).complete()  # the next part's `conn.sql` needs the connection free


def record_outcomes(conn, outcomes: pd.DataFrame, attempted_at: datetime, event_type_uid: str) -> None:
    """Write one batch's outcomes (columns key: the transaction_id, status, reason) to the
    ledger rows of `event_type_uid`."""
    conn.execute(
        """
        UPDATE helix_events
        SET status = o.status,
            reason = o.reason,
            attempts = attempts + 1,
            last_attempt_at = $at,
            posted_at = CASE WHEN o.status = $posted THEN $at ELSE posted_at END
        FROM outcomes o
        WHERE helix_events.transaction_id = o.key AND helix_events.event_type_uid = $event_type_uid
        """,
        {"at": attempted_at.replace(tzinfo=None), "posted": HelixStatus.POSTED, "event_type_uid": event_type_uid},
    )


def status_counts(conn, start: datetime, end: datetime) -> dict[str, int]:
    counts = dict(
        conn.execute(
            "SELECT status, count(*) FROM helix_events WHERE sale_hour >= ? AND sale_hour < ? GROUP BY 1",
            [start, end],
        ).fetchall()
    )
    return {status.value: int(counts.get(status, 0)) for status in HelixStatus}
