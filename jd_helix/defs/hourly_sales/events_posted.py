"""`store_sales.events_posted`: the default event type's events the ledger says posted, per
store and hour. One definition for the two writers of the figure: the `store_sales` asset, which
builds the hour's rows, and the Helix audit, which changes the ledger after them (adopting an
event Helix holds makes a row posted, a failed re-post makes one failed) and recounts the
figure of the hours it changed in the same transaction.
"""

from __future__ import annotations

from datetime import datetime

from jd_helix.defs.helix.destination import default_event_type_uid
from jd_helix.domain.helix_status import HelixStatus

# The sales of the hour (`e`, transaction_camera_events) with their default type's ledger row
# (`l`): one event per sale, so the figure never counts a sale twice, however many types take it.
LEDGER_OF_DEFAULT_TYPE_JOIN = (
    "LEFT JOIN helix_events l ON l.transaction_id = e.transaction_id AND l.event_type_uid = $default_type_uid"
)
EVENTS_POSTED = "count(*) FILTER (WHERE l.status = $posted)"

_RECOUNT_SQL = f"""
UPDATE store_sales SET events_posted = counted.events_posted
FROM (
    SELECT e.sale_hour, e.store_id, {EVENTS_POSTED} AS events_posted
    FROM transaction_camera_events e {LEDGER_OF_DEFAULT_TYPE_JOIN}
    WHERE e.sale_hour >= $start AND e.sale_hour < $end
    GROUP BY e.sale_hour, e.store_id
) counted
WHERE store_sales.sale_hour = counted.sale_hour AND store_sales.store_id IS NOT DISTINCT FROM counted.store_id
  AND store_sales.events_posted IS DISTINCT FROM counted.events_posted
"""


def events_posted_params(conn) -> dict[str, str | None]:
    """What the SQL above binds: the default type (as the ledger's last pinning recorded it)
    and the status counted."""
    return {"default_type_uid": default_event_type_uid(conn), "posted": HelixStatus.POSTED}


def recount_events_posted(conn, start: datetime, end: datetime) -> int:
    """Bring `events_posted` of the store_sales rows of [start, end) (naive UTC) in line with the
    ledger, inside the caller's transaction; returns how many rows changed. Hours store_sales has
    not built yet are left to it."""
    row = conn.execute(_RECOUNT_SQL, {"start": start, "end": end, **events_posted_params(conn)}).fetchone()
    return int(row[0]) if row else 0
