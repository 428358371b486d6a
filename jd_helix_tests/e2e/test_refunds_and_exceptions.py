"""End to end: refunds reach Helix exactly once like sales, every event carries the exception
flags, and the exceptions asset shows the hour's counts per rule."""

from collections import Counter
from datetime import timedelta

import dagster as dg
import pytest
from dagster._core.event_api import AssetRecordsFilter

from jd_helix.domain.exception_rules import RULES
from jd_helix.lib.partitions import partition_key
from jd_helix.resources.helix_settings import EVENT_SCHEMA
from jd_helix.sandbox import Sandbox, SandboxConfig
from jd_helix_tests.e2e.harness import naive, query, recent_hours, refresh_dimensions, resources_for, run_hour

[HOUR] = recent_hours(1)


@pytest.fixture(scope="module")
def landed(tmp_path_factory):
    database = str(tmp_path_factory.mktemp("refunds") / "jd_helix.duckdb")
    config = SandboxConfig(seed=31, fixed_sales_per_hour=600, rate_limit_per_5s=None, rate_limit_per_minute=None)
    with Sandbox.running(config, port=0) as sandbox, dg.DagsterInstance.ephemeral() as instance:
        resources = resources_for(sandbox, database)
        assert refresh_dimensions(resources, instance=instance).success
        assert run_hour(resources, HOUR, instance=instance).success
        yield sandbox, database, instance


def test_every_mapped_refund_reaches_helix_once_flagged_and_sales_are_not(landed):
    sandbox, _, _ = landed
    truth = sandbox.truth(HOUR, HOUR + timedelta(hours=1))
    mapped = {s.transaction_id: s for s in truth.valid.values() if s.verkada_camera_id is not None}
    refunds = {tid for tid, s in mapped.items() if s.amount < 0}
    assert len(refunds) >= 10, "the sandbox makes refunds"

    events = {e["attributes"]["transaction_id"]: e for e in sandbox.helix_events()}
    assert set(events) == set(mapped)
    assert {tid for tid, e in events.items() if e["attributes"]["refund"] is True} == refunds
    assert all(e["attributes"]["refund"] is False for tid, e in events.items() if tid not in refunds)
    for tid in refunds:
        assert events[tid]["attributes"]["transaction_amount"] == float(mapped[tid].amount) < 0
        assert "refund" in events[tid]["attributes"]["exceptions"].split(",")
    for event in events.values():
        attributes = event["attributes"]
        fired = [rule for rule in RULES if attributes[rule] is True]
        assert attributes["exceptions"] == ",".join(fired)

    writes = Counter((w["camera_id"], w["event_type_uid"], w["time_ms"]) for w in sandbox.helix_writes())
    assert set(writes.values()) == {1}, "each event written once"


def test_the_event_type_on_helix_has_the_flags(landed):
    sandbox, _, _ = landed
    [event_type] = sandbox.event_types()
    assert event_type["event_schema"] == EVENT_SCHEMA
    assert all(event_type["event_schema"][rule] == "boolean" for rule in RULES)


def test_the_exceptions_asset_counts_each_rule_for_its_hour(landed):
    _, database, instance = landed
    stored = query(
        database,
        f"SELECT count(*), {', '.join(f'count(*) FILTER (WHERE {rule})' for rule in RULES)} "
        "FROM transaction_exceptions WHERE sale_hour = ?",
        [naive(HOUR)],
    )[0]
    refunds_joined = query(
        database,
        "SELECT count(*) FROM transaction_camera_events WHERE sale_hour = ? AND transaction_amount < 0",
        [naive(HOUR)],
    )[0][0]
    assert stored[1] == refunds_joined > 0
    [record] = instance.fetch_materializations(
        AssetRecordsFilter(asset_key=dg.AssetKey("transaction_exceptions"), asset_partitions=[partition_key(HOUR)]),
        limit=1,
    ).records
    metadata = {k: v.value for k, v in record.asset_materialization.metadata.items()}
    assert [metadata["flagged"], *(metadata[rule] for rule in RULES)] == list(stored)
    assert "| store | till | flagged |" in metadata["by_store_and_till"]
