"""The markdown previews shown on an asset's page: one renderer for DuckDB rows and frames."""

import dagster as dg
import pandas as pd

from jd_helix.lib.metadata import PREVIEW_ROWS, preview, preview_rows


def markdown(value: dg.MetadataValue) -> str:
    assert isinstance(value, dg.MarkdownMetadataValue)
    return value.md_str or ""


def test_a_frame_preview_is_the_same_table_as_its_rows():
    frame = pd.DataFrame({"store_id": ["S1", "S2"], "name": ["Oxford | St", None]})

    shown = markdown(preview(frame))

    assert shown == markdown(preview_rows(["store_id", "name"], [("S1", "Oxford | St"), ("S2", None)]))
    assert shown.splitlines() == ["| store_id | name |", "|---|---|", "| S1 | Oxford \\| St |", "| S2 |  |"]


def test_a_preview_shows_only_the_first_rows_and_says_when_there_are_none():
    frame = pd.DataFrame({"n": range(PREVIEW_ROWS + 5)})

    assert len(markdown(preview(frame)).splitlines()) == 2 + PREVIEW_ROWS
    assert markdown(preview(frame.iloc[0:0])) == "_no rows_"
