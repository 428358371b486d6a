"""Which Helix the ledger posts to: its API base URL and event type uid, recorded with the
first events pinned (never the key).

A ledger's `posted` rows are true only of the Helix they were posted to. Pointed at
another one (a live Helix after the sandbox, another region or organisation, a recreated
event type), the ledger would skip sales the new Helix has never seen; so while it holds
rows of one Helix it refuses to work for another, until a fresh ledger is started on purpose.
"""

from __future__ import annotations

from datetime import datetime

from jd_helix.domain.helix_status import HelixStatus

START_FRESH_COMMAND = "jd-helix ledger start-fresh"

DESTINATION_TABLE = """
CREATE TABLE IF NOT EXISTS helix_destination (
    api_base_url VARCHAR NOT NULL, event_type_uid VARCHAR NOT NULL, recorded_at TIMESTAMP)
"""


class OtherHelixError(RuntimeError):
    """The warehouse's ledger belongs to another Helix."""


def recorded_destination(conn) -> tuple[str, str] | None:
    """(api_base_url, event_type_uid) the ledger was pinned for; works on a read-only connection."""
    exists = conn.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'helix_destination'").fetchone()
    if not exists or not exists[0]:
        return None
    return conn.execute("SELECT api_base_url, event_type_uid FROM helix_destination").fetchone()


def check_destination(conn, database: str, api_base_url: str, event_type_uid: str | None = None) -> None:
    """Refuse if the ledger holds rows pinned for another Helix than this one.

    Without `event_type_uid` (before any request) only the API base URL is compared.
    """
    recorded = recorded_destination(conn)
    if recorded is None or (recorded[0] == api_base_url and event_type_uid in (None, recorded[1])):
        return
    posted, pinned = conn.execute(
        "SELECT count(*) FILTER (status = ?), count(*) FROM helix_events WHERE time_ms IS NOT NULL",
        [HelixStatus.POSTED],
    ).fetchone()
    if pinned:
        raise OtherHelixError(
            f"The ledger in {database} holds {posted} events posted ({pinned} pinned) to the Helix at "
            f"{recorded[0]} (event type {recorded[1]}), but the pipeline now points at {api_base_url}"
            f"{f' (event type {event_type_uid})' if event_type_uid else ''}. Nothing was sent. If that is "
            f"intended, start a fresh ledger (the old one is kept as a table): {START_FRESH_COMMAND} "
            f"--database {database} - otherwise set VERKADA_API_BASE_URL / JD_HELIX_EVENT_TYPE back."
        )


def record_destination(conn, database: str, api_base_url: str, event_type_uid: str, now: datetime) -> None:
    """Check, then remember the Helix the ledger pins triples for; inside the pinning transaction.

    Rows of another event type that were never sent (unmapped, or skipped before any attempt:
    no triple) are dropped when the destination moves; the pinning that follows records them
    again for this one (the ledger posts to one event type)."""
    recorded = recorded_destination(conn)
    check_destination(conn, database, api_base_url, event_type_uid)
    if recorded is not None and recorded[1] != event_type_uid:
        conn.execute("DELETE FROM helix_events WHERE event_type_uid <> ? AND time_ms IS NULL", [event_type_uid])
    conn.execute(DESTINATION_TABLE)
    conn.execute("DELETE FROM helix_destination")
    conn.execute("INSERT INTO helix_destination VALUES (?, ?, ?)", [api_base_url, event_type_uid, now])
