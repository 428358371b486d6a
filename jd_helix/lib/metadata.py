"""Run metadata shared by the assets: counts as numbers (so the UI plots them), windows, previews."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import dagster as dg
import pandas as pd

PREVIEW_ROWS = 10


def window_metadata(start: datetime, end: datetime) -> dict[str, Any]:
    return {
        "window_start": dg.MetadataValue.timestamp(start),
        "window_end": dg.MetadataValue.timestamp(end),
    }


def preview(frame: pd.DataFrame) -> dg.MetadataValue:
    """A short markdown table of a frame's first rows; missing values (NaN, NA) show as empty cells."""
    shown = frame.head(PREVIEW_ROWS).astype(object)
    shown = shown.where(shown.notna(), None)
    return preview_rows([str(column) for column in shown.columns], list(shown.itertuples(index=False)))


def preview_rows(columns: list[str], rows: list[tuple]) -> dg.MetadataValue:
    """A short markdown table of the first rows, as fetched from DuckDB."""
    if not rows:
        return dg.MetadataValue.md("_no rows_")
    lines = [_markdown_row(columns), "|" + "---|" * len(columns)]
    lines += [_markdown_row(row) for row in rows[:PREVIEW_ROWS]]
    return dg.MetadataValue.md("\n".join(lines))


def _markdown_row(values) -> str:
    cells = ("" if value is None else str(value).replace("|", "\\|").replace("\n", " ") for value in values)
    return "| " + " | ".join(cells) + " |"
