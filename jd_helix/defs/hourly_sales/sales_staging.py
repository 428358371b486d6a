"""The parsed sales of one fetch, staged as Parquet files until the load reads them.

The fetching threads hand each page over as it arrives; each thread appends to files of
its own (a row group every few tens of thousands of rows), so memory holds a few pages,
not the hour, and the warehouse stays free for others while the API is paged. The load
then reads the files inside its one write transaction (DuckDB's `read_parquet`). Records
set aside are staged the same way, as JSON text, so a broken hour costs no more memory
than a clean one. The files live in a folder the caller removes.
"""

from __future__ import annotations

import threading
from contextlib import ExitStack
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from jd_helix.clients.jd.records import TRANSACTION_SCHEMA, Rejection
from jd_helix.clients.jd.sales_extract import SalesWindow
from jd_helix.defs.hourly_sales.rejected_records import raw_json
from jd_helix.lib.partitions import partition_key

# Rows per Parquet row group: large enough for DuckDB to scan fast, small enough that
# the rows waiting for their group stay a few megabytes per thread.
SALES_ROW_GROUP_ROWS = 64 * 1024
REJECTED_ROW_GROUP_ROWS = 4 * 1024
REJECTED_SCHEMA = pa.schema(
    [("scope", pa.string()), ("field", pa.string()), ("reason", pa.string()), ("raw", pa.string())]
)


class _RowGroupWriter:
    """One Parquet file written a row group at a time, as the batches fill one."""

    def __init__(self, path: Path, schema: pa.Schema, row_group_rows: int):
        # Opened at once: the file is valid, and readable, even if no row ever comes.
        # Read once, soon, whole: compression, dictionaries and statistics would cost the
        # fetching threads CPU for nothing.
        self._writer = pq.ParquetWriter(path, schema, compression="none", use_dictionary=False, write_statistics=False)
        self._schema = schema
        self._row_group_rows = row_group_rows
        self._batches: list[pa.RecordBatch] = []
        self._rows = 0

    def add(self, batch: pa.RecordBatch) -> None:
        self._batches.append(batch)
        self._rows += batch.num_rows
        if self._rows >= self._row_group_rows:
            self.flush()

    def flush(self) -> None:
        if self._rows:
            table = pa.Table.from_batches(self._batches, self._schema)
            self._writer.write_table(table, row_group_size=self._rows)
        self._batches, self._rows = [], 0

    def close(self) -> None:
        try:
            self.flush()
        finally:
            self._writer.close()


class _ThreadFiles:
    def __init__(self, directory: Path, number: int):
        self.sales = _RowGroupWriter(directory / f"sales-{number}.parquet", TRANSACTION_SCHEMA, SALES_ROW_GROUP_ROWS)
        self.rejected = _RowGroupWriter(
            directory / f"rejected-{number}.parquet", REJECTED_SCHEMA, REJECTED_ROW_GROUP_ROWS
        )


class StagedSales:
    """A `PageSink` for `fetch_sales`: every page into Parquet files in `directory`.

    Use as a context manager; once it has exited, `sales_files` and `rejected_files` are
    complete (each holds at least one file, maybe empty, so a reader never sees none).
    """

    def __init__(self, directory: Path):
        self._directory = directory
        self._local = threading.local()
        self._lock = threading.Lock()
        self._files: list[_ThreadFiles] = []
        self._closed = False

    def __enter__(self) -> StagedSales:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def add(self, window: SalesWindow, batch: pa.RecordBatch, rejected: list[Rejection]) -> None:
        files: _ThreadFiles | None = getattr(self._local, "files", None)
        if files is None:
            files = self._new_files()
            self._local.files = files
        files.sales.add(batch)
        if rejected:
            scope = partition_key(window.hour)
            files.rejected.add(
                pa.RecordBatch.from_pydict(
                    {
                        "scope": [scope] * len(rejected),
                        "field": [r.field for r in rejected],
                        "reason": [r.reason for r in rejected],
                        "raw": [raw_json(r.raw) for r in rejected],
                    },
                    schema=REJECTED_SCHEMA,
                )
            )

    def window_done(self, window: SalesWindow) -> None:
        """Write what this thread holds now, while the other windows are still paged, so
        that little is left to write once the last one ends."""
        files: _ThreadFiles | None = getattr(self._local, "files", None)
        if files is not None:
            files.sales.flush()
            files.rejected.flush()

    def _new_files(self) -> _ThreadFiles:
        with self._lock:
            files = _ThreadFiles(self._directory, len(self._files))
            self._files.append(files)
            return files

    def close(self) -> None:
        """Write what is buffered and close every file (after the fetching threads are done)."""
        if self._closed:
            return
        self._closed = True
        if not self._files:
            self._new_files()
        with ExitStack() as closing:  # every file is closed, even when one fails to
            for files in self._files:
                closing.callback(files.sales.close)
                closing.callback(files.rejected.close)

    @property
    def sales_files(self) -> list[str]:
        return [str(self._directory / f"sales-{n}.parquet") for n in range(len(self._files))]

    @property
    def rejected_files(self) -> list[str]:
        return [str(self._directory / f"rejected-{n}.parquet") for n in range(len(self._files))]
