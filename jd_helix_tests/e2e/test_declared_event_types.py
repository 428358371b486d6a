"""End to end: event types declared in a file (JD_HELIX_EVENT_TYPES_FILE). Each transaction
reaches Helix once per type that takes it, with that type's attributes; nothing is written
twice, re-running the hour posts nothing again, the audit puts a lost event back as its
own type, and the reports list each transaction once with its delivery per type."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from datetime import timedelta

import dagster as dg
import pytest
import requests
from click.testing import CliRunner
from fastapi.testclient import TestClient

from jd_helix.api.app import create_app
from jd_helix.api.keys import KeyRing, hash_key
from jd_helix.api.replica import ReplicaKeeper
from jd_helix.cli.main import main
from jd_helix.defs.audit.assets import helix_audit
from jd_helix.defs.audit.checks import helix_holds_ledger
from jd_helix.domain.exception_rules import RULES
from jd_helix.lib.partitions import partition_key
from jd_helix.resources.helix_settings import HelixSettings
from jd_helix.sandbox import Sandbox, SandboxConfig
from jd_helix_tests.e2e.harness import naive, query, recent_hours, refresh_dimensions, resources_for, run_hour

# Not marked time_sensitive: one UTC hour two hours back (inside the partitions and Helix's
# window at any instant, no local time, no history-based rule can fire), so the instant only
# picks which sales the sandbox draws, and the assertions must hold for any draw. Run once at
# the clock guard's six far instants, it failed at one only because of such a draw (a refund's
# millisecond, below, assumed no sale had moved), since fixed; marked, it adds ~95 s to the guard.
[HOUR] = recent_hours(1)
REFUND_ATTRIBUTES = {"transaction_id", "transaction_amount", "item_name", "store_name", "refund", "exceptions"}


def types_file(store_id: str) -> str:
    return f"""\
event_types:
  - name: JD Sports Sale
  - name: JD Sports Refund
    attributes: [transaction_amount, item_name, store_name, refund, exceptions]
    takes:
      refunds: true
  - name: One store's flagged
    attributes: all
    takes:
      flagged: any
      stores: ["{store_id}"]
"""


def sandbox_events(sandbox) -> list[dict]:
    answer = requests.get(sandbox.base_url + "/_sandbox/events", timeout=10)
    answer.raise_for_status()
    return answer.json()["events"]


@pytest.fixture(scope="module")
def landed(tmp_path_factory):
    folder = tmp_path_factory.mktemp("event_types")
    database = str(folder / "jd_helix.duckdb")
    config = SandboxConfig(seed=31, fixed_sales_per_hour=600, rate_limit_per_5s=None, rate_limit_per_minute=None)
    with Sandbox.running(config, port=0) as sandbox, dg.DagsterInstance.ephemeral() as instance:
        assert refresh_dimensions(resources_for(sandbox, database), instance=instance).success
        # The store with the most refunds of the hour (each is flagged `refund`), whatever hour
        # the clock picks: its flagged transactions are a handful, never none.
        truth = sandbox.truth(HOUR, HOUR + timedelta(hours=1))
        store_of_camera = dict(query(database, "SELECT camera_id, store_id FROM jd_points_of_sale"))
        refunds_per_store = Counter(
            store_of_camera[s.camera_id]
            for s in truth.valid.values()
            if s.amount < 0 and s.verkada_camera_id is not None and s.camera_id in store_of_camera
        )
        store_id = min(refunds_per_store, key=lambda store: (-refunds_per_store[store], store))
        (folder / "event_types.yaml").write_text(types_file(store_id))
        resources = {
            **resources_for(sandbox, database),
            "helix_settings": HelixSettings(event_types_file=str(folder / "event_types.yaml")),
        }
        first = run_hour(resources, HOUR, instance=instance)
        assert first.success
        yield sandbox, database, resources, instance, first, store_id


def events_by_type(sandbox) -> dict[str, list[dict]]:
    names = {t["event_type_uid"]: t["name"] for t in sandbox.event_types()}
    by_type: dict[str, list[dict]] = defaultdict(list)
    for event in sandbox_events(sandbox):
        by_type[names[event["event_type_uid"]]].append(event)
    return by_type


def test_each_transaction_reaches_helix_once_per_type_that_takes_it(landed):
    sandbox, database, _, _, _, store_id = landed
    truth = sandbox.truth(HOUR, HOUR + timedelta(hours=1))
    mapped = {s.transaction_id: s for s in truth.valid.values() if s.verkada_camera_id is not None}
    refunds = {tid for tid, s in mapped.items() if s.amount < 0}
    flagged_in_store = {
        tid
        for (tid,) in query(
            database,
            "SELECT e.transaction_id FROM transaction_camera_events e JOIN transaction_exceptions x USING (transaction_id) "
            "WHERE e.store_id = ? AND e.verkada_camera_id IS NOT NULL AND x.exceptions <> ''",
            [store_id],
        )
    }
    assert len(refunds) >= 10 and len(flagged_in_store) >= 1

    by_type = events_by_type(sandbox)
    assert set(by_type) == {"JD Sports Sale", "JD Sports Refund", "One store's flagged"}
    for name, wanted in [
        ("JD Sports Sale", set(mapped)),
        ("JD Sports Refund", refunds),
        ("One store's flagged", flagged_in_store),
    ]:
        per_sale = Counter(e["attributes"]["transaction_id"] for e in by_type[name])
        assert set(per_sale) == wanted, name
        assert set(per_sale.values()) == {1}, f"{name}: each transaction once"

    for event in by_type["JD Sports Refund"]:
        assert set(event["attributes"]) <= REFUND_ATTRIBUTES and event["attributes"]["refund"] is True
        assert event["attributes"]["transaction_amount"] < 0
    # The default type carries every attribute; the flags are never null, so always there.
    assert all(set(RULES) | {"exceptions"} <= set(e["attributes"]) for e in by_type["JD Sports Sale"])
    assert any("item_id" in e["attributes"] for e in by_type["JD Sports Sale"])

    # A refund is an event of each type on its camera, each at its own millisecond unless another
    # sale of that type took it first (then the next free one: each type pins on its own, so
    # whether one moved depends on the hour's sales). Mostly one camera and millisecond: the
    # triples differ by type alone.
    instant_ms = dict(query(database, "SELECT transaction_id, time_ms FROM transaction_camera_events"))
    sale_at = {e["attributes"]["transaction_id"]: (e["camera_id"], e["time_ms"]) for e in by_type["JD Sports Sale"]}
    refund_at = {e["attributes"]["transaction_id"]: (e["camera_id"], e["time_ms"]) for e in by_type["JD Sports Refund"]}
    for tid, (camera, ms) in refund_at.items():
        assert sale_at[tid][0] == camera
        assert 0 <= ms - instant_ms[tid] < 1000 and 0 <= sale_at[tid][1] - instant_ms[tid] < 1000
    assert sum(sale_at[tid] == at for tid, at in refund_at.items()) > len(refund_at) / 2
    writes = Counter((w["camera_id"], w["event_type_uid"], w["time_ms"]) for w in sandbox.helix_writes())
    assert set(writes.values()) == {1}, "each event written once"


def test_the_ledger_holds_one_row_per_transaction_and_type_and_its_checks_pass(landed):
    sandbox, database, _, _, first, _ = landed
    uids = {t["name"]: t["event_type_uid"] for t in sandbox.event_types()}
    per_type = dict(
        query(database, "SELECT event_type_uid, count(*) FILTER (WHERE status = 'posted') FROM helix_events GROUP BY 1")
    )
    assert per_type == {
        uid: len(events) for uid, events in ((uids[name], events) for name, events in events_by_type(sandbox).items())
    }
    assert query(database, "SELECT count(*) FROM helix_destination") == [(3,)]
    assert sorted(name for (name,) in query(database, "SELECT name FROM helix_event_type")) == sorted(uids)
    checks = {e.check_name: e for e in first.get_asset_check_evaluations()}
    assert checks["ledger_reconciles"].passed
    assert (
        checks["ledger_reconciles"].metadata["JD Sports Refund/in_ledger"].value
        == sum(1 for _ in events_by_type(sandbox)["JD Sports Refund"])
        + query(
            database,
            f"SELECT count(*) FROM helix_events WHERE event_type_uid = '{uids['JD Sports Refund']}' "
            "AND status <> 'posted'",
        )[0][0]
    )
    # store_sales counts the default (first) type's events: one per sale.
    assert query(database, "SELECT sum(events_posted) FROM store_sales")[0][0] == len(
        events_by_type(sandbox)["JD Sports Sale"]
    )


API_KEY = "jdh_event-types-test"


def every_item(client: TestClient, path: str, **params) -> list[dict]:
    """Every item of a list, page by page (small pages: many page boundaries)."""
    items, cursor = [], None
    while True:
        answer = client.get(
            path,
            headers={"X-API-Key": API_KEY},
            params={**params, "limit": 7, **({"cursor": cursor} if cursor else {})},
        )
        assert answer.status_code == 200, answer.text
        items += answer.json()["items"]
        cursor = answer.json()["next_cursor"]
        if cursor is None:
            return items


def test_the_reports_list_each_transaction_once_with_its_delivery_per_type(landed, tmp_path):
    sandbox, database, _, _, _, _ = landed
    uids = {t["name"]: t["event_type_uid"] for t in sandbox.event_types()}
    ledger: dict[str, dict[str, tuple]] = defaultdict(dict)
    for tid, uid, status, camera, time_ms in query(
        database, "SELECT transaction_id, event_type_uid, status, verkada_camera_id, time_ms FROM helix_events"
    ):
        ledger[tid][uid] = (status, camera, time_ms)
    sales = [tid for (tid,) in query(database, "SELECT transaction_id FROM transaction_camera_events ORDER BY 1")]
    assert any(len(ledger[tid]) >= 2 for tid in sales), "some transaction is posted as several types"
    window = {
        "start": f"{naive(HOUR):%Y-%m-%dT%H:%M:%S}Z",
        "end": f"{naive(HOUR) + timedelta(hours=1):%Y-%m-%dT%H:%M:%S}Z",
    }

    keeper = ReplicaKeeper(database, tmp_path / "replica")
    assert keeper.refresh() == "copied"
    try:
        client = TestClient(create_app(keeper, KeyRing(f"t:{hash_key(API_KEY)}", None), run_replica=False))
        items = every_item(client, "/v1/transactions", **window)
        assert sorted(item["transaction_id"] for item in items) == sales, "each transaction once, across pages"
        for item in items:
            entries = item["helix_by_type"]
            by_uid = {entry["event_type_uid"]: entry for entry in entries}
            assert {uid: (e["status"], e["verkada_camera_id"], e["time_ms"]) for uid, e in by_uid.items()} == ledger[
                item["transaction_id"]
            ]
            # Declared order, the default first; the top-level fields are the default type's.
            order = [name for name in uids if uids[name] in by_uid]
            assert [entry["event_type"] for entry in entries] == order
            assert [entry["is_default"] for entry in entries] == [name == "JD Sports Sale" for name in order]
            default = by_uid.get(uids["JD Sports Sale"])
            assert item["helix"]["status"] == (default["status"] if default else "not_in_ledger")
        refunds = [item for item in items if item["transaction_amount"].startswith("-")]
        assert refunds and all(
            [e["event_type"] for e in item["helix_by_type"]][:2] == ["JD Sports Sale", "JD Sports Refund"]
            for item in refunds
            if item["verkada_camera_id"] is not None
        )
        # The status filter is the default type's, as `helix.status`.
        posted = every_item(client, "/v1/transactions", helix_status="posted", **window)
        assert sorted(i["transaction_id"] for i in posted) == sorted(
            i["transaction_id"] for i in items if i["helix"]["status"] == "posted"
        )
        refund = next(item for item in refunds if item["verkada_camera_id"] is not None)
        one = client.get(f"/v1/transactions/{refund['transaction_id']}", headers={"X-API-Key": API_KEY})
        assert one.status_code == 200 and one.json() == refund
        flagged = every_item(client, "/v1/exceptions", **window)
        assert sorted(i["transaction_id"] for i in flagged) == sorted(
            tid
            for (tid,) in query(database, "SELECT transaction_id FROM transaction_exceptions WHERE exceptions <> ''")
        ), "each flagged transaction once"
    finally:
        keeper.close()

    period = ["--start", f"{naive(HOUR):%Y-%m-%dT%H:%M}", "--end", f"{naive(HOUR) + timedelta(hours=1):%Y-%m-%dT%H:%M}"]
    printed = CliRunner().invoke(main, ["report", "transactions", "--database", database, "--format", "json", *period])
    assert printed.exit_code == 0, printed.output
    rows = json.loads(printed.output)
    assert sorted(row["transaction_id"] for row in rows) == sales
    row = next(row for row in rows if row["transaction_id"] == refund["transaction_id"])
    assert row["helix_status"] == refund["helix"]["status"]
    assert row["helix_by_type"].startswith("JD Sports Sale: posted; JD Sports Refund: posted")


def test_re_running_the_hour_posts_nothing_again(landed):
    sandbox, database, resources, instance, _, _ = landed
    writes_before = len(sandbox.helix_writes())
    ledger_before = query(
        database, "SELECT transaction_id, event_type_uid, time_ms, status FROM helix_events ORDER BY ALL"
    )
    assert run_hour(resources, HOUR, instance=instance).success
    assert len(sandbox.helix_writes()) == writes_before
    assert (
        query(database, "SELECT transaction_id, event_type_uid, time_ms, status FROM helix_events ORDER BY ALL")
        == ledger_before
    )


def test_the_audit_puts_back_a_lost_event_of_a_declared_type_with_that_types_attributes(landed):
    sandbox, _database, resources, instance, _, _ = landed
    [lost] = events_by_type(sandbox)["JD Sports Refund"][:1]
    answer = requests.post(sandbox.base_url + "/_sandbox/events/delete", json={"events": [lost]}, timeout=10)
    assert answer.json() == {"deleted": 1}
    audited = dg.materialize(
        [helix_audit, helix_holds_ledger], resources=resources, instance=instance, partition_key=partition_key(HOUR)
    )
    assert audited.success
    [back] = [
        e
        for e in events_by_type(sandbox)["JD Sports Refund"]
        if e["attributes"]["transaction_id"] == lost["attributes"]["transaction_id"]
    ]
    assert (back["camera_id"], back["time_ms"], back["attributes"]) == (
        lost["camera_id"],
        lost["time_ms"],
        lost["attributes"],
    )
    assert all(e.passed for e in audited.get_asset_check_evaluations())
    writes = Counter((w["camera_id"], w["event_type_uid"], w["time_ms"]) for w in sandbox.helix_writes())
    assert writes[(lost["camera_id"], lost["event_type_uid"], lost["time_ms"])] == 2, "posted, then put back once"
