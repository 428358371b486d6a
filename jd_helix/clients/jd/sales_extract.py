"""Fetching the sales of a range of hours: windows paged concurrently, parsed as they arrive.

Cursor paging is sequential within one query, so the range is cut into windows (an hour
each, or slices of an hour when there are fewer hours than workers) that are paged side
by side. Each parsed page (a compact Arrow batch and the records set aside) goes at once
to a `PageSink`, which writes it somewhere (the asset stages it on disk): the fetch
itself keeps nothing but counts, so its memory does not grow with the hour.
"""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

import pyarrow as pa

from jd_helix.clients.jd.client import JdApiClient
from jd_helix.clients.jd.records import TRANSACTIONS_ENDPOINT, Rejection, parse_transaction_page
from jd_helix.domain.time_utils import epoch_ms

HOUR = timedelta(hours=1)
# seq = window index << 32 | position: the last occurrence of an id in a window wins.
_SEQ_SHIFT = 32


@dataclass(frozen=True)
class SalesWindow:
    index: int
    hour: datetime  # the hour this window belongs to (its rejections are filed there)
    start: datetime
    end: datetime


class PageSink(Protocol):
    """Where the parsed pages go. Called from the fetching threads at once; each window's
    pages come from one thread, in the order received."""

    def add(self, window: SalesWindow, batch: pa.RecordBatch, rejected: list[Rejection]) -> None: ...

    def window_done(self, window: SalesWindow) -> None:
        """The window's last page has been added (from the thread that added its pages)."""


@dataclass
class HourCounts:
    """What the API sent for one hour, counted as it went by."""

    received: int = 0  # records, usable or not
    parsed: int = 0  # usable records, before the newest copy of each transaction_id is kept
    rejected: Counter[str] = field(default_factory=Counter)  # Rejection.key -> records

    def add(self, other: HourCounts) -> None:
        self.received += other.received
        self.parsed += other.parsed
        self.rejected.update(other.rejected)


class WindowsStopped(RuntimeError):
    """A window stopped early because another window failed."""


def plan_windows(hours: list[datetime], concurrency: int) -> list[SalesWindow]:
    """One window per hour, or equal slices of each hour when hours are fewer than workers."""
    slices = max(1, -(-concurrency // max(1, len(hours))))
    step = HOUR / slices
    starts = [(hour, hour + step * i) for hour in hours for i in range(slices)]
    return [SalesWindow(index, hour, start, start + step) for index, (hour, start) in enumerate(starts)]


def _iso(instant: datetime) -> str:
    return instant.isoformat().replace("+00:00", "Z")


def _fetch_window(client: JdApiClient, window: SalesWindow, sink: PageSink, failed: threading.Event) -> HourCounts:
    counts = HourCounts()
    params = {"start": _iso(window.start), "end": _iso(window.end)}
    if failed.is_set():
        raise WindowsStopped(f"window {window.index} not started: another window failed")
    try:
        for page in client.pages(TRANSACTIONS_ENDPOINT, params):
            if failed.is_set():
                raise WindowsStopped(f"window {window.index} stopped: another window failed")
            batch, rejected = parse_transaction_page(
                page,
                first_seq=(window.index << _SEQ_SHIFT) + counts.received,
                window_start_ms=epoch_ms(window.start),
                window_end_ms=epoch_ms(window.end),
                local_zone=client.local_zone,
            )
            counts.received += len(page)
            counts.parsed += batch.num_rows
            counts.rejected.update(r.key for r in rejected)
            sink.add(window, batch, rejected)
        sink.window_done(window)
    except BaseException:
        failed.set()  # the other windows stop at their next page: the run fails anyway
        raise
    return counts


def fetch_sales(
    client: JdApiClient,
    hours: list[datetime],
    concurrency: int,
    sink: PageSink,
) -> dict[datetime, HourCounts]:
    """Every sale of `hours` (UTC hour starts), parsed into `sink`; what was received, per hour.

    The first failing window raises, once every window has stopped.
    """
    windows = plan_windows(hours, concurrency)
    failed = threading.Event()
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="jd-sales") as pool:
        futures = [pool.submit(_fetch_window, client, w, sink, failed) for w in windows]
    errors = [error for error in (f.exception() for f in futures) if error is not None]
    if errors:
        # The window that failed first, not one that was stopped because of it.
        raise next((e for e in errors if not isinstance(e, WindowsStopped)), errors[0])
    by_hour = {hour: HourCounts() for hour in hours}
    for window, future in zip(windows, futures, strict=True):
        by_hour[window.hour].add(future.result())
    return by_hour
