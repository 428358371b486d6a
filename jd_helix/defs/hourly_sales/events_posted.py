"""`store_sales.events_posted`: the default event type's events the ledger says posted, per
store and hour. One definition for the two writers of the figure: the `store_sales` asset, which
builds the hour's rows, and the Helix audit, which changes the ledger after them (adopting an
event Helix holds makes a row posted, a failed re-post makes one failed) and recounts the
figure of the hours it changed in the same transaction.
"""

from __future__ import annotations

from datetime import datetime

from jd_helix.domain.default_event_type import DEFAULT_TYPE_LEDGER_JOIN
from jd_helix.domain.helix_status import HelixStatus

# Over the hour's sales joined by DEFAULT_TYPE_LEDGER_JOIN: one event per sale, so the figure
# never counts a sale twice, however many types take it.
EVENTS_POSTED = f"count(*) FILTER (WHERE l.status = '{HelixStatus.POSTED}')"

_RECOUNT_SQL = f"""
UPDATE store_sales SET events_posted = counted.events_posted
FROM (
    SELECT e.sale_hour, e.store_id, {EVENTS_POSTED} AS events_posted
    FROM transaction_camera_events e {DEFAULT_TYPE_LEDGER_JOIN}
    WHERE e.sale_hour >= $start AND e.sale_hour < $end
    GROUP BY e.sale_hour, e.store_id
) counted
WHERE store_sales.sale_hour = counted.sale_hour AND store_sales.store_id IS NOT DISTINCT FROM counted.store_id
  AND store_sales.events_posted IS DISTINCT FROM counted.events_posted
"""


def recount_events_posted(conn, start: datetime, end: datetime) -> int:
    """Bring `events_posted` of the store_sales rows of [start, end) (naive UTC) in line with the
    ledger, inside the caller's transaction; returns how many rows changed. Hours store_sales has
    not built yet are left to it."""
    row = conn.execute(_RECOUNT_SQL, {"start": start, "end": end}).fetchone()
    return int(row[0]) if row else 0
