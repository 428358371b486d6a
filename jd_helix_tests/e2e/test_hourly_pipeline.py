"""End to end: dimensions and hours against the sandbox, checked against its ground truth."""

from collections import Counter
from datetime import timedelta

import pytest

from jd_helix.sandbox import Sandbox, SandboxConfig
from jd_helix_tests.e2e.harness import (
    naive,
    query,
    recent_hours,
    refresh_dimensions,
    resources_for,
    run_hour,
)

HOURS = recent_hours(3)


@pytest.fixture(scope="module")
def landed(tmp_path_factory):
    """A sandbox with every oddity on, and three hours run through the pipeline."""
    database = str(tmp_path_factory.mktemp("e2e") / "jd_helix.duckdb")
    config = SandboxConfig(seed=11, fixed_sales_per_hour=500, rate_limit_per_5s=None, rate_limit_per_minute=None)
    with Sandbox.running(config, port=0) as sandbox:
        resources = resources_for(sandbox, database)
        assert refresh_dimensions(resources).success
        for hour in HOURS:
            assert run_hour(resources, hour).success
        yield sandbox, resources, database


@pytest.mark.parametrize("hour", HOURS, ids=lambda h: h.strftime("%H:00"))
def test_jd_transactions_hold_exactly_the_valid_sales_of_the_hour(landed, hour):
    sandbox, _, database = landed
    truth = sandbox.truth(hour, hour + timedelta(hours=1))
    rows = query(
        database,
        "SELECT transaction_id, time_ms, transaction_amount, item_id, camera_id FROM jd_transactions "
        "WHERE sale_hour = ?",
        [naive(hour)],
    )
    assert len(rows) == len({row[0] for row in rows}), "one row per transaction_id"
    assert {row[0]: row[1:] for row in rows} == {
        sale.transaction_id: (sale.time_ms, sale.amount, sale.item_id, sale.camera_id) for sale in truth.valid.values()
    }


@pytest.mark.parametrize("hour", HOURS, ids=lambda h: h.strftime("%H:00"))
def test_every_bad_record_is_set_aside_with_its_field(landed, hour):
    sandbox, _, database = landed
    truth = sandbox.truth(hour, hour + timedelta(hours=1))
    rows = query(
        database,
        "SELECT field FROM jd_rejected_records WHERE endpoint = '/v1/sales' AND scope = ?",
        [hour.strftime("%Y-%m-%d-%H:%M")],
    )
    assert Counter(field for (field,) in rows) == Counter(r.field for r in truth.rejected)


def test_each_sale_is_joined_to_the_verkada_camera_that_watches_its_till(landed):
    sandbox, _, database = landed
    expected = {}
    for hour in HOURS:
        expected.update(
            {
                s.transaction_id: s.verkada_camera_id
                for s in sandbox.truth(hour, hour + timedelta(hours=1)).valid.values()
            }
        )
    rows = query(database, "SELECT transaction_id, verkada_camera_id, store_id FROM transaction_camera_events")
    assert {tid: camera for tid, camera, _ in rows} == expected
    assert None in expected.values(), "the sandbox's unmapped cameras must show up"
    mapped_without_store = [tid for tid, camera, store in rows if camera and store is None]
    assert len(mapped_without_store) < len(rows) * 0.05


def test_helix_holds_exactly_one_event_per_postable_sale(landed):
    sandbox, _, database = landed
    ledger = query(database, "SELECT transaction_id, status, verkada_camera_id, time_ms FROM helix_events")
    statuses = Counter(status for _, status, _, _ in ledger)
    events = sandbox.helix_events()
    posted = {tid: (camera, ms) for tid, status, camera, ms in ledger if status == "posted"}
    assert statuses["unmapped"] > 0 and set(statuses) <= {"posted", "unmapped"}
    assert len(events) == len(posted)
    by_sale = {event["attributes"]["transaction_id"]: (event["camera_id"], event["time_ms"]) for event in events}
    assert by_sale == posted
    # No sale's event was ever overwritten by another sale's.
    owners = {}
    for write in sandbox.helix_writes():
        triple = (write["camera_id"], write["event_type_uid"], write["time_ms"])
        owners.setdefault(triple, set()).add(write["attributes"]["transaction_id"])
    assert all(len(sales) == 1 for sales in owners.values())


def test_event_attributes_carry_the_sale_for_loss_prevention_search(landed):
    sandbox, _, database = landed
    row = query(
        database,
        "SELECT transaction_id, transaction_amount, item_name, store_name, pos_name FROM transaction_camera_events "
        "WHERE verkada_camera_id IS NOT NULL AND item_name IS NOT NULL AND store_name IS NOT NULL LIMIT 1",
    )[0]
    event = next(e for e in sandbox.helix_events() if e["attributes"]["transaction_id"] == row[0])
    assert event["attributes"]["transaction_amount"] == pytest.approx(float(row[1]))
    assert event["attributes"]["item_name"] == row[2][:200]
    assert event["attributes"]["store_name"] == row[3][:200]
    assert event["attributes"]["pos_name"] == row[4][:200]


def test_re_running_an_hour_changes_nothing(landed):
    sandbox, resources, database = landed
    hour = HOURS[1]
    # Every column but the load/build times.
    tables = {
        "jd_transactions": "* EXCLUDE (loaded_at)",
        "transaction_camera_events": "* EXCLUDE (built_at)",
        "store_sales": "* EXCLUDE (built_at)",
        "helix_events": "transaction_id, verkada_camera_id, event_type_uid, time_ms, status, attempts, posted_at",
    }

    def snapshot():
        return {
            table: sorted(
                query(database, f"SELECT {columns} FROM {table} WHERE sale_hour = ?", [naive(hour)]), key=repr
            )
            for table, columns in tables.items()
        }

    before, writes = snapshot(), len(sandbox.helix_writes())
    assert run_hour(resources, hour).success
    assert snapshot() == before
    assert len(sandbox.helix_writes()) == writes, "nothing is posted twice"


@pytest.mark.parametrize(
    "table, endpoint, key",
    [
        ("jd_stores", "stores", "store_id"),
        ("jd_points_of_sale", "points-of-sale", "pos_id"),
        ("jd_cameras", "cameras", "camera_id"),
        ("jd_items", "inventory", "item_id"),
    ],
)
def test_reference_tables_hold_the_valid_records_and_set_aside_the_rest(landed, table, endpoint, key):
    sandbox, _, database = landed
    truth = sandbox.dimension_truth(endpoint)
    assert {row[0] for row in query(database, f"SELECT {key} FROM {table}")} == set(truth.valid)
    rejected = query(
        database, "SELECT field FROM jd_rejected_records WHERE endpoint = ? AND scope = 'refresh'", [f"/v1/{endpoint}"]
    )
    assert Counter(field for (field,) in rejected) == Counter(r.field for r in truth.rejected)
    assert truth.rejected, "the sandbox serves bad reference records too"


@pytest.mark.time_sensitive  # the clock guard runs it at far instants too
def test_footage_links_are_recorded_when_switched_on_within_their_budget(tmp_path):
    from jd_helix.resources.helix_settings import HelixSettings

    config = SandboxConfig(
        seed=2, clean=True, fixed_sales_per_hour=40, rate_limit_per_5s=None, rate_limit_per_minute=None
    )
    database = str(tmp_path / "links.duckdb")
    with Sandbox.running(config, port=0) as sandbox:
        resources = {
            **resources_for(sandbox, database),
            "helix_settings": HelixSettings(footage_links=True, footage_links_per_run=5),
        }
        assert refresh_dimensions(resources).success
        result = run_hour(resources, HOURS[0])
        assert result.success
        link_requests = sum(n for (api, label, status), n in sandbox.stats().items() if "footage" in label)
    urls = query(database, "SELECT verkada_camera_id, footage_url FROM helix_events WHERE footage_url IS NOT NULL")
    assert len(urls) == 5 == link_requests
    assert all(camera in url for camera, url in urls)
    assert result.asset_materializations_for_node("helix_events")[0].metadata["run/footage_links"].value == 5
