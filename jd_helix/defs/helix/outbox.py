"""The events one `helix_events` run posts, written out once and read back a batch at a time.

In the transaction that pinned the triples, the window's postable ledger rows (pending, or
failed with attempts left) and their attributes go to Parquet files of small row groups
(DuckDB's COPY, a camera part per file); the posting then reads them back 1,000 rows at a
time. So the hour is never held in Python, whatever its size, and no DuckDB connection
stays open while posting (the ledger writes of each batch, and other processes, need the
database file between them). The files are a snapshot of what the run set out to post, as
the DataFrame they replace was; they live in the step's staging folder beside the
warehouse (`WarehouseResource.staging_directory`), which goes with the step, and which the
next step removes if a killed process left it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from jd_helix.clients.verkada.events import HelixEvent
from jd_helix.defs.helix.camera_parts import CameraPart
from jd_helix.domain.exception_rules import RULES
from jd_helix.domain.helix_status import HelixStatus
from jd_helix.resources.warehouse import single_row

ATTRIBUTE_COLUMNS = (
    "transaction_amount",
    "item_id",
    "item_name",
    "store_id",
    "store_name",
    "pos_id",
    "pos_name",
    *RULES,
    "exceptions",
)
ROWS_PER_READ = 1000  # one batch job's worth; a row group of the file holds ten of them
ROWS_PER_ROW_GROUP = 10_000
ROWS_PER_PART = 100_000  # rows per part of the hour (see CameraPart)

# The rows of one event type a run (re)sends: pending, or failed with attempts left; over ledger rows `l`.
POSTABLE_WHERE = """
l.sale_hour >= $start AND l.sale_hour < $end AND l.event_type_uid = $event_type_uid
AND (l.status = $pending OR (l.status = $failed AND l.attempts < $max_attempts))
"""
# DECIMAL to DOUBLE in DuckDB gives the same float as Python's float(Decimal): both are the
# double nearest the exact value. A transaction with no row in transaction_exceptions has no
# flag: each rule false, `exceptions` empty.
# An event's triple and attributes, over ledger rows `l`, their sales `e` and flags `x`
# (EXCEPTIONS_JOIN): what helix_events posts and the audit re-posts.
EVENT_COLUMNS_SQL = f"""
l.transaction_id, l.verkada_camera_id, l.event_type_uid, l.time_ms,
e.transaction_amount::DOUBLE AS transaction_amount, e.item_id, e.item_name, e.store_id,
e.store_name, e.pos_id, e.pos_name,
{", ".join(f"coalesce(x.{rule}, false) AS {rule}" for rule in RULES)},
coalesce(x.exceptions, '') AS exceptions
"""
EXCEPTIONS_JOIN = (
    "LEFT JOIN transaction_exceptions x ON x.transaction_id = l.transaction_id AND x.sale_hour = l.sale_hour"
)
POSTABLE_SQL = f"""
SELECT {EVENT_COLUMNS_SQL}
FROM helix_events l
JOIN transaction_camera_events e USING (transaction_id)
{EXCEPTIONS_JOIN}
WHERE {POSTABLE_WHERE} AND hash(l.verkada_camera_id) % $parts = $part
ORDER BY l.verkada_camera_id, l.time_ms, l.transaction_id
"""
COPY_SQL = f"COPY ({POSTABLE_SQL}) TO $path (FORMAT parquet, ROW_GROUP_SIZE $row_group_size)"
COUNT_SQL = f"SELECT count(*) FROM helix_events l WHERE {POSTABLE_WHERE}"


class Outbox:
    """Files of one event type's events to post, one per camera part, in `directory` (a
    staging folder whose owner removes it), carrying the type's `attributes` (of ATTRIBUTE_COLUMNS)."""

    def __init__(self, directory: Path, event_type_uid: str, attributes: tuple[str, ...] = ATTRIBUTE_COLUMNS) -> None:
        self._directory = directory
        self.event_type_uid = event_type_uid
        self.attributes = attributes
        self.files: list[Path] = []
        self.count = 0

    def fill(self, conn, start: datetime, end: datetime, max_attempts: int) -> int:
        """Write the postable events of [start, end) as `conn`'s transaction sees them; returns how many.

        Camera by camera in parts of about ROWS_PER_PART (one file each), so that DuckDB's
        join and sort work on one part at a time whatever the hour's size."""
        window = {
            "start": start,
            "end": end,
            "pending": HelixStatus.PENDING,
            "failed": HelixStatus.FAILED,
            "max_attempts": max_attempts,
            "event_type_uid": self.event_type_uid,
        }
        postable = int(single_row(conn.execute(COUNT_SQL, window))[0])
        if not postable:
            return 0
        for part in CameraPart.all(postable, ROWS_PER_PART):
            path = self._directory / f"events-{part.index}.parquet"
            params = {**window, **part.params, "path": str(path), "row_group_size": ROWS_PER_ROW_GROUP}
            self.count += int(single_row(conn.execute(COPY_SQL, params))[0])
            self.files.append(path)
        return self.count

    def events(self) -> Iterator[HelixEvent]:
        """The events, part by part, in (camera, time_ms) order within a part, read ROWS_PER_READ at a time."""
        for path in self.files:
            for batch in pq.ParquetFile(path).iter_batches(batch_size=ROWS_PER_READ):
                yield from (event_of_row(row, self.attributes) for row in batch.to_pylist())


def event_of_row(row: dict[str, Any], attributes_of_type: Iterable[str] = ATTRIBUTE_COLUMNS) -> HelixEvent:
    """A row of EVENT_COLUMNS_SQL as the event to post: its pinned triple and the attributes
    its event type carries (`attributes_of_type`; transaction_id always)."""
    attributes = {"transaction_id": row["transaction_id"]}
    attributes.update((column, row[column]) for column in attributes_of_type if row[column] is not None)
    return HelixEvent(
        camera_id=row["verkada_camera_id"],
        event_type_uid=row["event_type_uid"],
        time_ms=int(row["time_ms"]),
        attributes=attributes,
        key=row["transaction_id"],
    )
