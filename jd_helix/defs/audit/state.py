"""The audit's record of each hour: `helix_audit`, one row per (hour, event type), replaced
by each audit of that hour.

Created by migration 4 (resources/migrations.py) when a process first opens the warehouse
read-write; a reader of a warehouse not yet migrated treats the missing table as "never audited".
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import dagster as dg

COLUMNS = [
    ("sale_hour", "TIMESTAMP", "the UTC hour audited (its partition)"),
    ("event_type_uid", "VARCHAR", "the Helix event type audited"),
    ("audited_at", "TIMESTAMP", "when the hour was last audited, UTC"),
    ("held", "BIGINT", "events of the hour's sales Helix held (adopted ones included)"),
    ("missing", "BIGINT", "ledger rows posted whose event Helix did not hold"),
    ("reposted", "BIGINT", "of those, re-posted (same triple) and acknowledged by this audit"),
    ("adopted", "BIGINT", "events Helix held for sales whose ledger row did not say posted; now it does"),
    ("unknown", "BIGINT", "events of the type in the hour that no sale of this warehouse owns (left alone)"),
    ("still_missing", "BIGINT", "of the missing, not in Helix when read again after the re-posts (an error)"),
    ("requests", "BIGINT", "Verkada requests this hour's audit made (searches and re-posts)"),
]
TABLE_METADATA = {
    "dagster/table_name": "jd_helix.main.helix_audit",
    "dagster/column_schema": dg.TableSchema(columns=[dg.TableColumn(n, k, d) for n, k, d in COLUMNS]),
}


@dataclass
class HourAudit:
    """What the audit of one hour and event type found and did.

    held: events of the hour's sales Helix holds (adopted ones included); missing: ledger rows
    `posted` that Helix does not hold; reposted: of those, re-posted and acknowledged this
    audit; adopted: events Helix holds for sales whose ledger row did not say posted (now it
    does); unknown: events of the type in the hour that belong to no sale of this warehouse
    (left alone); still_missing: missing events Helix still did not hold when the hour was read
    again after the re-posts (re-posts lost again, or refused: the next audit finds them).
    """

    held: int = 0
    missing: int = 0
    reposted: int = 0
    adopted: int = 0
    unknown: int = 0
    still_missing: int = 0
    requests: int = 0

    def figures(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def add(self, other: HourAudit) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))


def table_exists(conn) -> bool:
    found = conn.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'helix_audit'").fetchone()
    return bool(found and found[0])
