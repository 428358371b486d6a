"""The audit's record of each hour: `helix_audit`, one row per (hour, event type), replaced
by each audit of that hour.

Created by migration 4 (resources/migrations.py) when a process first opens the warehouse
read-write; a reader of a warehouse not yet migrated treats the missing table as "never audited".
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from jd_helix.lib.tables import table_metadata

TABLE_METADATA = table_metadata("helix_audit")


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
