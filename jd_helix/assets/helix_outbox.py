"""The events one `helix_events` run posts, written out once and read back a batch at a time.

In the transaction that pinned the triples, the window's postable ledger rows (pending, or
failed with attempts left) and their attributes go to a Parquet file of small row groups
(DuckDB's COPY); the posting then reads it back 1,000 rows at a time. So the hour is never
held in Python, whatever its size, and no DuckDB connection stays open while posting (the
ledger writes of each batch, and other processes, need the file between them). The file is
a snapshot of what the run set out to post, as the DataFrame it replaces was; it lives in
a temporary directory for the step and goes with it.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from jd_helix.clients.verkada.events import HelixEvent
from jd_helix.helix_status import HelixStatus
from jd_helix.resources.warehouse import single_row

ATTRIBUTE_COLUMNS = ("transaction_amount", "item_id", "item_name", "store_id", "store_name", "pos_id", "pos_name")
ROWS_PER_READ = 1000  # one batch job's worth; a row group of the file holds ten of them
ROWS_PER_ROW_GROUP = 10_000

# DECIMAL to DOUBLE in DuckDB gives the same float as Python's float(Decimal): both are the
# double nearest the exact value.
POSTABLE_SQL = """
SELECT l.transaction_id, l.verkada_camera_id, l.event_type_uid, l.time_ms,
       e.transaction_amount::DOUBLE AS transaction_amount, e.item_id, e.item_name, e.store_id,
       e.store_name, e.pos_id, e.pos_name
FROM helix_events l
JOIN transaction_camera_events e USING (transaction_id)
WHERE l.sale_hour >= $start AND l.sale_hour < $end
  AND (l.status = $pending OR (l.status = $failed AND l.attempts < $max_attempts))
ORDER BY l.verkada_camera_id, l.time_ms, l.transaction_id
"""


class Outbox:
    """A temporary file of events to post; a context manager that deletes it."""

    def __init__(self) -> None:
        self._directory = Path(tempfile.mkdtemp(prefix="jd_helix_outbox_"))
        self.path = self._directory / "events.parquet"
        self.count = 0

    def fill(self, conn, start: datetime, end: datetime, max_attempts: int) -> int:
        """Write the postable events of [start, end) as `conn`'s transaction sees them; returns how many."""
        # The path and row group size are ours, not input; COPY takes no parameters for them.
        copy = f"COPY ({POSTABLE_SQL}) TO '{self.path}' (FORMAT parquet, ROW_GROUP_SIZE {ROWS_PER_ROW_GROUP})"
        params = {
            "start": start,
            "end": end,
            "pending": HelixStatus.PENDING,
            "failed": HelixStatus.FAILED,
            "max_attempts": max_attempts,
        }
        self.count = int(single_row(conn.execute(copy, params))[0])
        return self.count

    def events(self) -> Iterator[HelixEvent]:
        """The events in (camera, time_ms) order, read ROWS_PER_READ at a time."""
        if not self.count:
            return
        for batch in pq.ParquetFile(self.path).iter_batches(batch_size=ROWS_PER_READ):
            columns = batch.to_pydict()
            for row in zip(*columns.values(), strict=True):
                yield _event(dict(zip(columns, row, strict=True)))

    def close(self) -> None:
        shutil.rmtree(self._directory, ignore_errors=True)

    def __enter__(self) -> "Outbox":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _event(row: dict[str, Any]) -> HelixEvent:
    attributes = {"transaction_id": row["transaction_id"]}
    attributes.update((column, row[column]) for column in ATTRIBUTE_COLUMNS if row[column] is not None)
    return HelixEvent(
        camera_id=row["verkada_camera_id"],
        event_type_uid=row["event_type_uid"],
        time_ms=int(row["time_ms"]),
        attributes=attributes,
        key=row["transaction_id"],
    )
