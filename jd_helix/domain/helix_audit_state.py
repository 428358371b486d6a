"""Each hour's audit state, as `jd-helix report helix-audit` and `GET /v1/helix-audit` show it.

Plain SQL over the warehouse (the `helix_audit` table the audit writes, beside the ledger):
one row per hour that has ledger rows or an audit, the figures summed over event types.
A warehouse the audit has never written (no table yet) shows its hours as not audited.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

FIGURES = ("held", "missing", "reposted", "adopted", "unknown", "still_missing")
NOT_AUDITED, HOLDS_LEDGER, STILL_MISSING = "not audited", "holds ledger", "still missing"

_AUDITED = f"""
SELECT sale_hour, max(audited_at) AS audited_at, {", ".join(f"sum({f})::BIGINT AS {f}" for f in FIGURES)}
FROM helix_audit WHERE sale_hour >= $start AND sale_hour < $end GROUP BY sale_hour
"""
_NEVER_AUDITED = f"""
SELECT NULL::TIMESTAMP AS sale_hour, NULL::TIMESTAMP AS audited_at, {", ".join(f"NULL::BIGINT AS {f}" for f in FIGURES)}
WHERE false
"""
_STATE_SQL = """
WITH audited AS ({audited}),
hours AS (
    SELECT DISTINCT sale_hour FROM helix_events WHERE sale_hour >= $start AND sale_hour < $end
    UNION SELECT sale_hour FROM audited
)
SELECT h.sale_hour, a.audited_at, {figures},
       CASE WHEN a.audited_at IS NULL THEN $not_audited WHEN a.still_missing > 0 THEN $still_missing
            ELSE $holds END AS state
FROM hours h LEFT JOIN audited a USING (sale_hour)
ORDER BY h.sale_hour
"""


def audit_state(conn, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """The hours of [start, end) (naive UTC) with when each was audited and what the audit found."""
    has_table = conn.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'helix_audit'").fetchone()
    sql = _STATE_SQL.format(
        audited=_AUDITED if has_table and has_table[0] else _NEVER_AUDITED,
        figures=", ".join(f"a.{f}" for f in FIGURES),
    )
    result = conn.execute(
        sql,
        {"start": start, "end": end, "not_audited": NOT_AUDITED, "still_missing": STILL_MISSING, "holds": HOLDS_LEDGER},
    )
    names = [column[0] for column in result.description]
    return [dict(zip(names, row, strict=True)) for row in result.fetchall()]
