"""Fetching the sales of a range of hours: windows paged concurrently, parsed as they arrive.

Cursor paging is sequential within one query, so the range is cut into windows (an hour
each, or slices of an hour when there are fewer hours than workers) that are paged side
by side. Parsed pages are kept as compact Arrow batches, never as Python dicts, so a
busy hour costs tens of megabytes, not gigabytes.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyarrow as pa

from jd_helix.clients.jd.client import JdApiClient
from jd_helix.clients.jd.records import (
    TRANSACTION_SCHEMA,
    TRANSACTIONS_ENDPOINT,
    Rejection,
    parse_transaction_page,
)
from jd_helix.time_utils import epoch_ms

HOUR = timedelta(hours=1)
# seq = window index << 32 | position: the last occurrence of an id in a window wins.
_SEQ_SHIFT = 32


@dataclass(frozen=True)
class SalesWindow:
    hour: datetime  # the hour this window belongs to (its rejections are filed there)
    start: datetime
    end: datetime


@dataclass
class SalesExtract:
    table: pa.Table
    rejections: list[tuple[datetime, Rejection]]  # (hour, rejection)
    received_by_hour: dict[datetime, int]  # records the API returned, usable or not

    @property
    def records_received(self) -> int:
        return sum(self.received_by_hour.values())


def plan_windows(hours: list[datetime], concurrency: int) -> list[SalesWindow]:
    """One window per hour, or equal slices of each hour when hours are fewer than workers."""
    slices = max(1, -(-concurrency // max(1, len(hours))))
    step = HOUR / slices
    return [
        SalesWindow(hour, hour + step * i, hour + step * (i + 1))
        for hour in hours
        for i in range(slices)
    ]


def _iso(instant: datetime) -> str:
    return instant.isoformat().replace("+00:00", "Z")


def _fetch_window(client: JdApiClient, index: int, window: SalesWindow):
    batches: list[pa.RecordBatch] = []
    rejections: list[tuple[datetime, Rejection]] = []
    received = 0
    params = {"start": _iso(window.start), "end": _iso(window.end)}
    for page in client.pages(TRANSACTIONS_ENDPOINT, params):
        batch, rejected = parse_transaction_page(
            page,
            first_seq=(index << _SEQ_SHIFT) + received,
            window_start_ms=epoch_ms(window.start),
            window_end_ms=epoch_ms(window.end),
            local_zone=client.local_zone,
        )
        received += len(page)
        batches.append(batch)
        rejections.extend((window.hour, r) for r in rejected)
    return batches, rejections, received


def fetch_sales(client: JdApiClient, hours: list[datetime], concurrency: int) -> SalesExtract:
    """Every sale of `hours` (UTC hour starts), parsed; the first failing window raises."""
    windows = plan_windows(hours, concurrency)
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="jd-sales") as pool:
        results = list(pool.map(lambda iw: _fetch_window(client, *iw), enumerate(windows)))
    batches = [batch for window_batches, _, _ in results for batch in window_batches]
    received_by_hour = dict.fromkeys(hours, 0)
    for window, (_, _, received) in zip(windows, results, strict=True):
        received_by_hour[window.hour] += received
    return SalesExtract(
        table=pa.Table.from_batches(batches, schema=TRANSACTION_SCHEMA),
        rejections=[r for _, window_rejections, _ in results for r in window_rejections],
        received_by_hour=received_by_hour,
    )
