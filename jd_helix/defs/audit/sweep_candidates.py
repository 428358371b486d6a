"""What the daily sweep reads from the warehouse to choose its hours, on a read-only connection.

A schedule must never wait on (or block) the run writing DuckDB: while one writes, the read
returns None and the tick is skipped (the sweep then runs the next day).
"""

from __future__ import annotations

from datetime import datetime

from jd_helix.defs.audit.state import table_exists
from jd_helix.defs.audit.sweep import HOUR, SweepHour
from jd_helix.resources.warehouse import open_read_only


def read_sweep_hours(database: str, first: datetime, last: datetime) -> list[SweepHour] | None:
    """Each hour from `first` to `last` (naive UTC, both included) with its ledger rows and its
    last audit (the stalest event type's), or None while a run writes the file."""
    conn = open_read_only(database)
    if conn is None:
        return None
    try:
        events = dict(
            conn.execute(
                "SELECT sale_hour, count(*) FROM helix_events WHERE sale_hour >= ? AND sale_hour <= ? GROUP BY sale_hour",
                [first, last],
            ).fetchall()
        )
        audits: dict[datetime, tuple[datetime, int]] = {}
        if table_exists(conn):  # a warehouse of an earlier release: nothing audited yet
            audits = {
                hour: (audited_at, int(missing))
                for hour, audited_at, missing in conn.execute(
                    "SELECT sale_hour, min(audited_at), sum(missing) FROM helix_audit "
                    "WHERE sale_hour >= ? AND sale_hour <= ? GROUP BY sale_hour",
                    [first, last],
                ).fetchall()
            }
    finally:
        conn.close()
    hours = []
    hour = first
    while hour <= last:
        audited_at, missing = audits.get(hour, (None, 0))
        hours.append(SweepHour(hour=hour, events=int(events.get(hour, 0)), audited_at=audited_at, last_missing=missing))
        hour += HOUR
    return hours
