"""Which declared event type is the default one (the first declared), as the warehouse records it.

The reports show the default type's delivery as a sale's `helix`, and `store_sales` counts its
events; each `helix_events` run records the declared order in `helix_destination`.
"""

# The default event type's uid as the last pinning recorded it: NULL before the first pinning.
# A scalar subquery, for SQL that needs it inline.
DEFAULT_EVENT_TYPE_UID_SQL = (
    "(SELECT event_type_uid FROM helix_destination ORDER BY declared_position NULLS LAST, event_type_uid LIMIT 1)"
)

# Sales (`e`) with their default type's ledger row (`l`; NULLs when it has none): one row per
# sale, however many types take it. What store_sales counts and the API's status filter reads.
DEFAULT_TYPE_LEDGER_JOIN = f"LEFT JOIN helix_events l ON l.transaction_id = e.transaction_id AND l.event_type_uid = {DEFAULT_EVENT_TYPE_UID_SQL}"
