"""Reading an hour of our events back from Helix (event search), as an Arrow table."""

from __future__ import annotations

import pyarrow as pa

from jd_helix.clients.verkada.client import VerkadaClient

HELD_SCHEMA = pa.schema(
    [
        ("camera_id", pa.string()),
        ("event_type_uid", pa.string()),
        ("time_ms", pa.int64()),
        ("transaction_id", pa.string()),
    ]
)


def events_held(client: VerkadaClient, event_type_uid: str, start_ms: int, end_ms: int) -> pa.Table:
    """The triples and transaction ids of every event of the type Helix holds in [start_ms, end_ms).

    Only these four values of each event are kept (about 100 bytes an event), not the pages."""
    columns: dict[str, list] = {name: [] for name in HELD_SCHEMA.names}
    for event in client.search_events(event_type_uid, start_ms, end_ms):
        attributes = event.get("attributes") or {}
        transaction_id = attributes.get("transaction_id")
        columns["camera_id"].append(str(event["camera_id"]))
        columns["event_type_uid"].append(str(event.get("event_type_uid") or event_type_uid))
        columns["time_ms"].append(int(event["time_ms"]))
        columns["transaction_id"].append(None if transaction_id is None else str(transaction_id))
    return pa.table(columns, schema=HELD_SCHEMA)
