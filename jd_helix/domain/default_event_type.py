"""Which declared event type is the default one (the first declared), as the warehouse records it.

The reports show the default type's delivery as a sale's `helix`, and `store_sales` counts its
events; each `helix_events` run records the declared order in `helix_destination`.
"""

# The default event type's uid as the last pinning recorded it: NULL before the first pinning.
# A scalar subquery, for SQL that needs it inline (api/queries.py, defs/helix/destination.py).
DEFAULT_EVENT_TYPE_UID_SQL = (
    "(SELECT event_type_uid FROM helix_destination ORDER BY declared_position NULLS LAST, event_type_uid LIMIT 1)"
)
