"""Comparing what Helix holds for an hour with the ledger, and putting the ledger right.

By triple and by `transaction_id`, in DuckDB (the events Helix holds arrive as an Arrow
table, `held`), inside the caller's write transaction:
- a ledger row `posted` (at or before `snapshot_at`, when the audit started reading Helix)
  whose event Helix does not hold is *missing*: it is returned, to be re-posted with its
  pinned triple. Rows posted after the snapshot are left to the next audit: Helix was read
  before their post was known, so they may look missing without being so;
- an event Helix holds for one of our sales whose ledger row does not say so (pending,
  failed, unmapped; or no row at all, e.g. after the warehouse was restored from an older
  copy) is *adopted*: the row says `posted` with Helix's triple, so it is never posted again.
  Only where Helix's triple is free in the ledger: a triple pinned for another sale is left
  to that sale;
- any other event of the type in the hour is *unknown* (another deployment posting to the
  same type, or a duplicate): counted, never touched.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pyarrow as pa

from jd_helix.clients.verkada.events import HelixEvent
from jd_helix.defs.audit.state import HourAudit
from jd_helix.defs.helix.destination import recorded_destination
from jd_helix.defs.helix.outbox import EVENT_COLUMNS_SQL, EXCEPTIONS_JOIN, event_of_row
from jd_helix.domain.helix_status import HelixStatus
from jd_helix.domain.time_utils import epoch_ms
from jd_helix.lib.hourly_table import aware
from jd_helix.resources.warehouse import single_row

ADOPTED_REASON = "adopted by helix_audit: Helix already held this event"
# A sale moved to a free millisecond can land just past its hour's end; search a little
# beyond it (and beyond the latest pinned ms of the hour, whatever it is).
SEARCH_SLACK = timedelta(minutes=1)

_SAME_EVENT = """l.verkada_camera_id = h.camera_id AND l.event_type_uid = h.event_type_uid
                 AND l.time_ms = h.time_ms AND l.transaction_id = h.transaction_id"""


def _run(conn, sql: str, params: dict):
    """`sql` with the parameters it names out of `params` (DuckDB refuses any it does not use)."""
    return conn.execute(sql, {name: params[name] for name in set(re.findall(r"\$(\w+)", sql))})


def event_types_to_audit(conn, start: datetime, end: datetime) -> list[str]:
    """The event types of the hour's pinned ledger rows, and the one the ledger posts to now."""
    types = {
        uid
        for (uid,) in conn.execute(
            "SELECT DISTINCT event_type_uid FROM helix_events "
            "WHERE sale_hour >= ? AND sale_hour < ? AND event_type_uid IS NOT NULL",
            [start, end],
        ).fetchall()
    }
    destination = recorded_destination(conn)
    if destination is not None:
        types.add(destination[1])
    return sorted(types)


def search_range(conn, start: datetime, end: datetime, event_type_uid: str) -> tuple[int, int]:
    """[start_ms, end_ms) to search: the hour, reaching past its end to its latest pinned ms."""
    latest = single_row(
        conn.execute(
            "SELECT max(time_ms) FROM helix_events WHERE sale_hour >= ? AND sale_hour < ? AND event_type_uid = ?",
            [start, end, event_type_uid],
        )
    )[0]
    end_ms = epoch_ms(aware(end) + SEARCH_SLACK)
    return epoch_ms(aware(start)), max(end_ms, int(latest) + 1 if latest is not None else end_ms)


def reconcile(
    conn, held: pa.Table, start: datetime, end: datetime, event_type_uid: str, snapshot_at: datetime
) -> tuple[HourAudit, list[HelixEvent]]:
    """Adopt what Helix holds that the ledger lost; return the hour's figures and the events to re-post.

    `start`/`end`/`snapshot_at` are naive UTC; call inside a write transaction."""
    conn.register("helix_held", held)
    try:
        params = {
            "start": start,
            "end": end,
            "start_ms": epoch_ms(aware(start)),
            "end_ms": epoch_ms(aware(end)),
            "type": event_type_uid,
            "posted": HelixStatus.POSTED,
            "snapshot_at": snapshot_at,
            "reason": ADOPTED_REASON,
        }
        adopted = _adopt_pinned(conn, params) + _adopt_unpinned(conn, params)
        in_hour = single_row(
            _run(conn, "SELECT count(*) FROM helix_held WHERE time_ms >= $start_ms AND time_ms < $end_ms", params)
        )[0]
        ours_in_hour = single_row(
            _run(
                conn,
                f"""SELECT count(*) FROM helix_held h
                WHERE h.time_ms >= $start_ms AND h.time_ms < $end_ms
                  AND EXISTS (SELECT 1 FROM helix_events l WHERE {_SAME_EVENT})""",
                params,
            )
        )[0]
        held_of_hour = single_row(
            _run(
                conn,
                f"""SELECT count(*) FROM helix_events l
                WHERE l.sale_hour >= $start AND l.sale_hour < $end AND l.event_type_uid = $type
                  AND l.status = $posted AND EXISTS (SELECT 1 FROM helix_held h WHERE {_SAME_EVENT})""",
                params,
            )
        )[0]
        missing = _missing(conn, params)
    finally:
        conn.unregister("helix_held")
    audit = HourAudit(
        held=int(held_of_hour), missing=len(missing), adopted=adopted, unknown=int(in_hour - ours_in_hour)
    )
    return audit, missing


def _adopt_pinned(conn, params: dict) -> int:
    """Rows whose pinned triple Helix holds for their sale, but that do not say posted."""
    return int(
        single_row(
            _run(
                conn,
                f"""UPDATE helix_events l SET status = $posted, reason = $reason, posted_at = $snapshot_at
                FROM helix_held h WHERE {_SAME_EVENT} AND l.status <> $posted""",
                params,
            )
        )[0]
    )


def _adopt_unpinned(conn, params: dict) -> int:
    """Events Helix holds in the hour for our sales that have no triple in the ledger (no row,
    or a row without one): their row is (re)written as posted with Helix's triple. One event
    per sale (the earliest); Helix's triple must be free in the ledger."""
    _run(
        conn,
        """
        CREATE OR REPLACE TEMP TABLE audit_adoptable AS
        SELECT h.transaction_id, e.sale_hour, h.camera_id, h.event_type_uid, h.time_ms
        FROM helix_held h JOIN transaction_camera_events e ON e.transaction_id = h.transaction_id
        WHERE h.time_ms >= $start_ms AND h.time_ms < $end_ms
          AND NOT EXISTS (SELECT 1 FROM helix_events l
                          WHERE l.transaction_id = h.transaction_id AND l.time_ms IS NOT NULL
                            AND coalesce(l.event_type_uid, h.event_type_uid) = h.event_type_uid)
          AND NOT EXISTS (SELECT 1 FROM helix_events t
                          WHERE t.verkada_camera_id = h.camera_id AND t.event_type_uid = h.event_type_uid
                            AND t.time_ms = h.time_ms)
        QUALIFY row_number() OVER (PARTITION BY h.transaction_id ORDER BY h.time_ms, h.camera_id) = 1
        """,
        params,
    )
    try:
        conn.execute(
            "DELETE FROM helix_events WHERE time_ms IS NULL "
            "AND transaction_id IN (SELECT transaction_id FROM audit_adoptable)"
        )
        return int(
            single_row(
                conn.execute(
                    """INSERT INTO helix_events (transaction_id, sale_hour, verkada_camera_id, event_type_uid,
                                                 time_ms, status, reason, attempts, pinned_at, posted_at)
                    SELECT transaction_id, sale_hour, camera_id, event_type_uid, time_ms, $posted, $reason, 0,
                           $snapshot_at, $snapshot_at
                    FROM audit_adoptable""",
                    {"posted": HelixStatus.POSTED, "reason": ADOPTED_REASON, "snapshot_at": params["snapshot_at"]},
                )
            )[0]
        )
    finally:
        conn.execute("DROP TABLE audit_adoptable")


def _missing(conn, params: dict) -> list[HelixEvent]:
    """The hour's rows posted by the snapshot whose event Helix does not hold, ready to re-post."""
    rows = _run(
        conn,
        f"""
        SELECT {EVENT_COLUMNS_SQL}
        FROM helix_events l LEFT JOIN transaction_camera_events e USING (transaction_id)
        {EXCEPTIONS_JOIN}
        WHERE l.sale_hour >= $start AND l.sale_hour < $end AND l.event_type_uid = $type
          AND l.status = $posted AND l.posted_at <= $snapshot_at
          AND NOT EXISTS (SELECT 1 FROM helix_held h WHERE {_SAME_EVENT})
        ORDER BY l.verkada_camera_id, l.time_ms
        """,
        params,
    )
    names = [column[0] for column in rows.description]
    return [event_of_row(dict(zip(names, row, strict=True))) for row in rows.fetchall()]
