"""The API's copy of the warehouse lives in its own folder, which goes when the API stops."""

from __future__ import annotations

import duckdb

from jd_helix.api.replica import RefreshOutcome, ReplicaKeeper
from jd_helix.resources.migrations import migrate


def _warehouse(tmp_path) -> str:
    path = str(tmp_path / "jd_helix.duckdb")
    with duckdb.connect(path) as conn:
        migrate(conn)
    return path


def test_closing_removes_the_copy_and_its_folder(tmp_path):
    folder = tmp_path / "jd_helix.duckdb.api-replica"
    keeper = ReplicaKeeper(_warehouse(tmp_path), folder)
    assert keeper.refresh() is RefreshOutcome.COPIED
    assert list(folder.iterdir()), "the copy is in the folder while the API runs"
    keeper.close()
    assert not folder.exists()


def test_a_folder_holding_something_else_is_left_with_it(tmp_path):
    folder = tmp_path / "replica"
    folder.mkdir()
    (folder / "notes.txt").write_text("not the API's")
    keeper = ReplicaKeeper(_warehouse(tmp_path), folder)
    keeper.refresh()
    keeper.close()
    assert [p.name for p in folder.iterdir()] == ["notes.txt"]
