"""Which Helix the ledger posts to: its API base URL and event type uids (one row per
declared event type), recorded with the first events pinned (never the key).

A ledger's `posted` rows are true only of the Helix they were posted to. Pointed at
another one (a live Helix after the sandbox, another region or organisation, a recreated
event type), the ledger would skip sales the new Helix has never seen; so while it holds
rows of one Helix it refuses to work for another, until a fresh ledger is started on purpose.

Several event types of one Helix are one destination: a type declared later (a new uid
beside the recorded ones) or one no longer declared is accepted; a set of types sharing no
uid with the recorded one (the one type renamed or recreated) is another destination.
"""

from __future__ import annotations

from datetime import datetime

from jd_helix.domain.helix_status import HelixStatus

START_FRESH_COMMAND = "jd-helix ledger start-fresh"


class OtherHelixError(RuntimeError):
    """The warehouse's ledger belongs to another Helix."""


def recorded_destination(conn) -> tuple[str, str] | None:
    """(api_base_url, event_type_uid) the ledger was pinned for; works on a read-only connection."""
    exists = conn.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'helix_destination'").fetchone()
    if not exists or not exists[0]:
        return None
    return conn.execute("SELECT api_base_url, event_type_uid FROM helix_destination").fetchone()


def recorded_event_types(conn) -> set[str]:
    """The event type uids the ledger was pinned for (empty before the first pinning)."""
    if recorded_destination(conn) is None:
        return set()
    return {uid for (uid,) in conn.execute("SELECT event_type_uid FROM helix_destination").fetchall()}


def pinned_uids_by_name(conn) -> dict[str, str]:
    """The uid of each event type the ledger pins for, by name (helix_event_type, where
    helix_events records each type it ensures); works on a read-only connection."""
    if recorded_destination(conn) is None:
        return {}
    return dict(
        conn.execute(
            "SELECT name, event_type_uid FROM helix_event_type "
            "WHERE event_type_uid IN (SELECT event_type_uid FROM helix_destination)"
        ).fetchall()
    )


def check_destination(conn, database: str, api_base_url: str, event_type_uids: list[str] | None = None) -> None:
    """Refuse if the ledger holds rows pinned for another Helix than this one.

    Without `event_type_uids` (before any request) only the API base URL is compared.
    """
    recorded = recorded_destination(conn)
    if recorded is None or (
        recorded[0] == api_base_url and (event_type_uids is None or recorded_event_types(conn) & set(event_type_uids))
    ):
        return
    posted, pinned = conn.execute(
        "SELECT count(*) FILTER (status = ?), count(*) FROM helix_events WHERE time_ms IS NOT NULL",
        [HelixStatus.POSTED],
    ).fetchone()
    if pinned:
        now_types = f" (event type {', '.join(event_type_uids)})" if event_type_uids else ""
        raise OtherHelixError(
            f"The ledger in {database} holds {posted} events posted ({pinned} pinned) to the Helix at "
            f"{recorded[0]} (event type {', '.join(sorted(recorded_event_types(conn)))}), but the pipeline now points at "
            f"{api_base_url}{now_types}. Nothing was "
            f"sent. If that is intended, start a fresh ledger (the old one is kept as a table): {START_FRESH_COMMAND} "
            f"--database {database} - otherwise set VERKADA_API_BASE_URL / JD_HELIX_EVENT_TYPE / "
            f"JD_HELIX_EVENT_TYPES_FILE back."
        )


def record_destination(conn, database: str, api_base_url: str, event_type_uids: list[str], now: datetime) -> None:
    """Check, then remember the Helix and event types the ledger pins triples for (`event_type_uids`
    in declared order: the first is the default); inside the pinning transaction.

    Rows of event types no longer declared that were never sent (unmapped, or skipped before
    any attempt: no triple) are dropped; a type declared again later records them anew."""
    check_destination(conn, database, api_base_url, event_type_uids)
    conn.execute(
        "DELETE FROM helix_events WHERE time_ms IS NULL AND NOT list_contains(?, event_type_uid)", [event_type_uids]
    )
    conn.execute("DELETE FROM helix_destination")
    conn.executemany(
        "INSERT INTO helix_destination (api_base_url, event_type_uid, recorded_at, declared_position) "
        "VALUES (?, ?, ?, ?)",
        [[api_base_url, uid, now, position] for position, uid in enumerate(event_type_uids)],
    )
