"""What the hourly checks share: a read connection per evaluation, and figures per hour.

Every check evaluates each hour of its run on its own and files the result under that hour
(see hourly_check_results).
"""

from collections.abc import Callable
from datetime import datetime
from typing import Any

import dagster as dg

from jd_helix.lib.hourly_table import HourWindow
from jd_helix.resources.warehouse import WarehouseResource

HourlyResults = dict[datetime, list[dg.AssetCheckResult]]


def reading(warehouse: WarehouseResource, evaluate: Callable[[Any, HourWindow], HourlyResults]):
    """`evaluate(conn, window)` with a read connection open for its queries only.

    A DuckDB reader keeps every other process from writing the file; the results are stored
    afterwards, one event per hour (seconds for a week of hours), while other runs write.
    """

    def evaluate_window(window: HourWindow) -> HourlyResults:
        with warehouse.read() as conn:
            return evaluate(conn, window)

    return evaluate_window


def figures_by_hour(
    conn, window: HourWindow, sql: str, zeros: dict[str, int], **params
) -> dict[datetime, dict[str, int]]:
    """One row of figures per hour of the window (`zeros` for an hour with no rows)."""
    frame = conn.execute(sql, {**window.bounds, **params}).df()
    found = {row.pop("sale_hour").to_pydatetime(): row for row in frame.to_dict("records")}
    return {hour: {k: int(v) for k, v in {**zeros, **found.get(hour, {})}.items()} for hour in window.hours}


def examples_by_hour(conn, window: HourWindow, sql: str) -> dict[datetime, dg.MetadataValue]:
    """A markdown table per hour of the rows `sql` returns (its first column is sale_hour)."""
    frame = conn.execute(sql, window.bounds).df()
    return {
        hour.to_pydatetime(): dg.MetadataValue.md(rows.drop(columns="sale_hour").to_markdown(index=False))
        for hour, rows in frame.groupby("sale_hour")
    }
