"""The sequence every hourly table asset shares: replace the run's hours, then tell each
hour its own figures.

One run may cover many hours (the scheduled look-back, every backfill). Dagster then
records one materialization per hour, all carrying the step's output metadata. So each
hour's figures go in as partition-scoped metadata (`context.add_asset_metadata(...,
partition_key=hour)`, which Dagster merges over the output metadata for that hour only):
first its own (rows, window, counts, preview), then what belongs to the run as a whole,
under `run/` names. The output metadata stays empty: the UI lists an hour's metadata in
the order it was merged, and the hour's own figures are what its page is read for.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import dagster as dg

from jd_helix.domain.time_utils import naive_utc
from jd_helix.lib.metadata import PREVIEW_ROWS, preview_rows, window_metadata
from jd_helix.lib.partitions import partition_key

HOUR = timedelta(hours=1)
RUN_PREFIX = "run/"


@dataclass(frozen=True)
class HourWindow:
    """The hours one step covers, as naive UTC bounds (as DuckDB stores them)."""

    start: datetime
    end: datetime

    @classmethod
    def of(cls, context: dg.AssetExecutionContext | dg.OpExecutionContext) -> HourWindow:
        window = context.partition_time_window
        return cls(naive_utc(window.start), naive_utc(window.end))

    @property
    def hours(self) -> list[datetime]:
        return [self.start + HOUR * i for i in range(int((self.end - self.start) / HOUR))]

    @property
    def bounds(self) -> dict[str, datetime]:
        return {"start": self.start, "end": self.end}


@dataclass(frozen=True)
class HourlyTable:
    """A DuckDB table keyed by `sale_hour`, and what each hour's page shows of it."""

    name: str
    preview_columns: str
    preview_order: str
    # figure name -> aggregate SQL over the hour's rows; numbers, shown (and plotted) per hour
    figures: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Every part of the SQL text below comes from the module constants that build a
        # HourlyTable; values always travel as parameters. The name is checked all the same.
        if not re.fullmatch(r"[a-z_]+", self.name):
            raise ValueError(f"not a plain table name: {self.name!r}")

    def replace(self, conn, window: HourWindow, select_sql: str, params: Mapping[str, Any] | None = None) -> None:
        """Delete the window's rows and insert `select_sql`'s, inside the caller's transaction."""
        table = self.name
        conn.execute(f"DELETE FROM {table} WHERE sale_hour >= $start AND sale_hour < $end", window.bounds)
        sql = f"INSERT INTO {table} {select_sql}"
        conn.execute(sql, {**window.bounds, **(params or {})})

    def figures_by_hour(self, conn, window: HourWindow) -> dict[datetime, dict[str, Any]]:
        """Each hour of the window: its row count, its figures and a preview (zeros for an empty hour)."""
        aggregates = "".join(f', {aggregate} AS "{name}"' for name, aggregate in self.figures.items())
        sql = (
            f"SELECT sale_hour, count(*) AS hour_rows{aggregates} FROM {self.name} "
            "WHERE sale_hour >= $start AND sale_hour < $end GROUP BY sale_hour"
        )
        counted = {hour: row for hour, *row in conn.execute(sql, window.bounds).fetchall()}
        sql = (
            f"SELECT sale_hour, {self.preview_columns} FROM {self.name} "
            "WHERE sale_hour >= $start AND sale_hour < $end "
            f"QUALIFY row_number() OVER (PARTITION BY sale_hour ORDER BY {self._preview_rank}) <= {PREVIEW_ROWS} "
            f"ORDER BY sale_hour, {self.preview_order}"
        )
        shown = conn.execute(sql, window.bounds)
        columns = [column[0] for column in shown.description][1:]
        previews: dict[datetime, list[tuple]] = {}
        for hour, *row in shown.fetchall():
            previews.setdefault(hour, []).append(tuple(row))
        result = {}
        for hour in window.hours:
            row = counted.get(hour, [None] * (1 + len(self.figures)))
            result[hour] = {
                "dagster/row_count": _number(row[0]),
                **{name: _number(value) for name, value in zip(self.figures, row[1:], strict=True)},
                "preview": preview_rows(columns, previews.get(hour, [])),
            }
        return result

    @property
    def _preview_rank(self) -> str:
        # DuckDB answers `row_number() OVER (PARTITION BY .. ORDER BY <one key>) <= n` with a
        # top-n per hour; over several keys it sorts every row of the hours (about 1 s and
        # 100 MB for a million rows). So one key: the columns as a row, which sorts the same
        # way when every key is ascending.
        if re.search(r"\b(asc|desc)\b", self.preview_order, re.IGNORECASE):
            return self.preview_order
        return f"row({self.preview_order})"


def hourly_result(
    context: dg.AssetExecutionContext,
    window: HourWindow,
    per_hour: Mapping[datetime, Mapping[str, Any]],
    run_wide: Mapping[str, Any],
) -> dg.MaterializeResult:
    """Attach each hour's figures to that hour's materialization, then `run_wide` (the same
    on every hour) as `run/...`."""
    run_figures = {"run/hours": len(window.hours), **{RUN_PREFIX + k: v for k, v in run_wide.items()}}
    for hour in window.hours:
        context.add_asset_metadata(
            {**window_metadata(aware(hour), aware(hour + HOUR)), **per_hour.get(hour, {}), **run_figures},
            partition_key=partition_key(aware(hour)),
        )
    return dg.MaterializeResult()


def _number(value: Any) -> int | float:
    """Counts stay integers, sums (DECIMAL) become floats: both plot in the UI."""
    if value is None:
        return 0
    return int(value) if isinstance(value, int) else float(value)


def aware(hour: datetime) -> datetime:
    """A stored (naive UTC) hour as an aware instant."""
    return hour.replace(tzinfo=UTC)
