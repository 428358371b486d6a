"""The lineage reads forwards: the reference_data group is what dimensions_job refreshes (so
the README's two ways of refreshing it do the same), and jd_rejected_records sits in a group
of its own below the assets that write it, linking to them."""

import dagster as dg

from jd_helix.definitions import defs


def _group(name: str) -> set[str]:
    graph = defs.resolve_asset_graph()
    return {key.to_user_string() for key in graph.get_all_asset_keys() if graph.get(key).group_name == name}


def test_the_reference_data_group_is_what_dimensions_job_refreshes():
    job = defs.resolve_job_def("dimensions_job")
    refreshed = {key.to_user_string() for key in job.asset_layer.executable_asset_keys}
    assert _group("reference_data") == refreshed
    assert "helix_event_type" in refreshed


def test_rejected_records_sit_in_their_own_group_and_link_to_their_writers():
    assert _group("rejected_records") == {"jd_rejected_records"}
    node = defs.resolve_asset_graph().get(dg.AssetKey("jd_rejected_records"))
    references = node.metadata["dagster/code_references"].code_references
    assert sorted(r.file_path.split("jd_helix/defs/")[1] for r in references) == [
        "hourly_sales/transactions.py",
        "reference_data/assets.py",
    ]
    assert all(r.label.startswith("written by ") for r in references)
