"""helix_audit against the sandbox over real HTTP: what Helix lost is re-posted exactly once,
what it holds is never posted again, and a warehouse restored from an older copy ends with
every sale in Helix exactly once."""

import json
import shutil
from collections import Counter
from datetime import datetime, timedelta

import dagster as dg
import duckdb
import pytest
import requests
from click.testing import CliRunner
from fastapi.testclient import TestClient

from jd_helix.api.app import create_app
from jd_helix.api.keys import KeyRing, hash_key
from jd_helix.api.replica import ReplicaKeeper
from jd_helix.cli.main import main
from jd_helix.clients.verkada.client import VerkadaClient
from jd_helix.clients.verkada.events import HelixEvent
from jd_helix.defs.audit.assets import helix_audit
from jd_helix.defs.audit.checks import helix_holds_ledger
from jd_helix.defs.hourly_sales.camera_events import transaction_camera_events
from jd_helix.defs.hourly_sales.store_sales import store_sales
from jd_helix.defs.hourly_sales.transactions import jd_transactions
from jd_helix.domain.helix_status import HelixStatus
from jd_helix.lib.partitions import partition_key, partition_range_tags
from jd_helix.sandbox import Sandbox, SandboxConfig
from jd_helix_tests.e2e.harness import naive, query, recent_hours, refresh_dimensions, resources_for, run_hours

HOURS = recent_hours(4, ago=2)
CONFIG = SandboxConfig(
    seed=24,
    clean=True,
    fixed_sales_per_hour=150,
    rate_limit_per_5s=None,
    rate_limit_per_minute=None,
    batch_delay_s=0.02,
)
AUDIT = [helix_audit, helix_holds_ledger]
Triple = tuple[str, str, int]


def audit(resources: dict, first: datetime, last: datetime) -> dg.ExecuteInProcessResult:
    result = dg.materialize(
        AUDIT, resources=resources, tags=partition_range_tags(partition_key(first), partition_key(last))
    )
    assert result.success
    return result


def audit_rows(database: str) -> dict[datetime, dict[str, int]]:
    names = ("held", "missing", "reposted", "adopted", "unknown", "still_missing")
    rows = query(database, f"SELECT sale_hour, {', '.join(names)} FROM helix_audit ORDER BY sale_hour")
    return {hour: dict(zip(names, figures, strict=True)) for hour, *figures in rows}


def triple(event: dict) -> Triple:
    return event["camera_id"], event["event_type_uid"], int(event["time_ms"])


def writes_since(sandbox: Sandbox, count: int) -> Counter[Triple]:
    return Counter(triple(write) for write in sandbox.helix_writes()[count:])


def events_per_sale(sandbox: Sandbox) -> Counter[str]:
    return Counter(event["attributes"]["transaction_id"] for event in sandbox.helix_events())


def mapped_sales(database: str, first: datetime, last: datetime) -> set[str]:
    rows = query(
        database,
        "SELECT transaction_id FROM transaction_camera_events WHERE sale_hour BETWEEN ? AND ? "
        "AND verkada_camera_id IS NOT NULL",
        [naive(first), naive(last)],
    )
    return {tid for (tid,) in rows}


def check_results(result: dg.ExecuteInProcessResult) -> dict[str | None, bool]:
    return {evaluation.partition: evaluation.passed for evaluation in result.get_asset_check_evaluations()}


@pytest.fixture
def sandbox():
    with Sandbox.running(CONFIG, port=0) as running:
        yield running


@pytest.fixture
def resources(sandbox, tmp_path):
    resources = resources_for(
        sandbox, str(tmp_path / "audit.duckdb"), audit_requests_per_5s=None, audit_requests_per_minute=None
    )
    assert refresh_dimensions(resources).success
    return resources


def test_events_helix_lost_are_found_and_reposted_exactly_once(sandbox, resources):
    database = resources["warehouse"].database
    first, last = HOURS[0], HOURS[1]
    # Helix acknowledges every create but keeps only about 90 % of them.
    requests.post(
        sandbox.base_url + "/_sandbox/faults", json={"api": "verkada", "lose_create_rate": 0.1}
    ).raise_for_status()
    assert run_hours(resources, first, last).success
    requests.post(sandbox.base_url + "/_sandbox/faults/reset").raise_for_status()
    sales = mapped_sales(database, first, last)
    lost = {triple(write) for write in sandbox.helix_writes() if write["lost"]}
    assert lost, "the fault lost some acknowledged creates"
    assert query(database, "SELECT DISTINCT status FROM helix_events") == [(HelixStatus.POSTED,)], (
        "the ledger believes all posted"
    )
    assert len(sandbox.helix_events()) == len(sales) - len(lost)

    writes = len(sandbox.helix_writes())
    result = audit(resources, first, last)
    assert writes_since(sandbox, writes) == Counter(lost), "each lost event re-posted once, nothing else posted"
    assert events_per_sale(sandbox) == Counter(sales), "every sale in Helix exactly once"
    figures = audit_rows(database)
    assert sum(f["missing"] for f in figures.values()) == len(lost)
    assert sum(f["reposted"] for f in figures.values()) == len(lost)
    assert all(f["still_missing"] == 0 and f["adopted"] == 0 and f["unknown"] == 0 for f in figures.values())
    assert check_results(result) == {partition_key(first): True, partition_key(last): True}
    metadata = result.asset_materializations_for_node("helix_audit")[0].metadata
    assert {"held", "missing", "reposted", "adopted", "unknown", "still_missing", "audited_at"} <= set(metadata)

    # Audited again: Helix holds everything, so nothing is posted.
    writes = len(sandbox.helix_writes())
    audit(resources, first, last)
    assert not writes_since(sandbox, writes)
    figures = audit_rows(database)
    assert sum(f["held"] for f in figures.values()) == len(sales)
    assert all(f["missing"] == 0 and f["reposted"] == 0 for f in figures.values())


def test_events_deleted_in_command_are_put_back_and_foreign_ones_left_alone(sandbox, resources):
    database = resources["warehouse"].database
    hour = HOURS[2]
    assert run_hours(resources, hour, hour).success
    held = sandbox.helix_events()
    deleted = held[:3]
    answer = requests.post(sandbox.base_url + "/_sandbox/events/delete", json={"events": deleted})
    assert answer.json() == {"deleted": 3}
    # Another deployment posts a sale of its own to the same event type in the hour.
    taken = {triple(event) for event in held}
    camera, type_uid, time_ms = triple(held[5])
    while (camera, type_uid, time_ms) in taken:  # a free millisecond: it must not replace one of ours
        time_ms += 1
    foreign = HelixEvent(
        camera_id=camera,
        event_type_uid=type_uid,
        time_ms=time_ms,
        attributes={"transaction_id": "other-deployment-1"},
        key="other-deployment-1",
    )
    with VerkadaClient(sandbox.verkada_base_url, sandbox.verkada_api_key) as client:
        [outcome] = client.post_events([foreign])
    assert outcome.status == HelixStatus.POSTED

    writes = len(sandbox.helix_writes())
    result = audit(resources, hour, hour)
    assert writes_since(sandbox, writes) == Counter(triple(event) for event in deleted)
    [figures] = audit_rows(database).values()
    assert (figures["missing"], figures["reposted"], figures["unknown"], figures["still_missing"]) == (3, 3, 1, 0)
    assert events_per_sale(sandbox)["other-deployment-1"] == 1, "an unknown event is left where it is"
    assert all(check_results(result).values())


def test_an_hour_still_missing_after_the_reposts_fails_the_check(sandbox, resources):
    hour = HOURS[2]
    assert run_hours(resources, hour, hour).success
    deleted = sandbox.helix_events()[:2]
    sandbox.delete_helix_events(deleted)
    # Helix acknowledges the re-posts and loses them again.
    requests.post(
        sandbox.base_url + "/_sandbox/faults", json={"api": "verkada", "lose_create_rate": 1.0}
    ).raise_for_status()
    writes = len(sandbox.helix_writes())
    result = audit(resources, hour, hour)
    assert writes_since(sandbox, writes) == Counter(triple(event) for event in deleted), "re-posted once each, no more"
    [figures] = audit_rows(resources["warehouse"].database).values()
    assert (figures["missing"], figures["reposted"], figures["still_missing"]) == (2, 2, 2)
    [evaluation] = result.get_asset_check_evaluations()
    assert not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.ERROR
    assert "2 events" in (evaluation.description or "")


def restore_then(sandbox: Sandbox, resources: dict, tmp_path, before_rerun) -> None:
    """Hour 0 posted, the warehouse copied, hours 1-2 posted, the old copy put back; then
    `before_rerun`, then the next hours (1-3, as the schedule's look-back runs them) and the audit."""
    database = resources["warehouse"].database
    assert run_hours(resources, HOURS[0], HOURS[0]).success
    shutil.copy(database, tmp_path / "backup.duckdb")
    assert run_hours(resources, HOURS[1], HOURS[2]).success
    shutil.copy(tmp_path / "backup.duckdb", database)
    assert not query(database, "SELECT * FROM helix_events WHERE sale_hour >= ?", [naive(HOURS[1])])
    before_rerun()
    assert run_hours(resources, HOURS[1], HOURS[3]).success
    audit(resources, HOURS[0], HOURS[3])
    assert events_per_sale(sandbox) == Counter(mapped_sales(database, HOURS[0], HOURS[3])), (
        "every sale in Helix exactly once"
    )
    assert all(f["still_missing"] == 0 and f["unknown"] == 0 for f in audit_rows(database).values())


def test_a_restored_warehouse_then_the_next_hours_and_the_audit_hold_every_sale_once(sandbox, resources, tmp_path):
    restore_then(sandbox, resources, tmp_path, before_rerun=lambda: None)


def test_after_a_restore_the_audit_adopts_what_helix_holds_instead_of_posting_it_again(sandbox, resources, tmp_path):
    database = resources["warehouse"].database
    writes_before_rerun: list[int] = []

    def audit_before_the_posting_runs() -> None:
        # The sales of the restored hours are read again, then audited before any is posted.
        tags = partition_range_tags(partition_key(HOURS[1]), partition_key(HOURS[2]))
        assert dg.materialize([jd_transactions, transaction_camera_events], resources=resources, tags=tags).success
        writes = len(sandbox.helix_writes())
        audit(resources, HOURS[1], HOURS[2])
        assert len(sandbox.helix_writes()) == writes
        adopted = sum(f["adopted"] for hour, f in audit_rows(database).items() if hour >= naive(HOURS[1]))
        assert adopted == len(mapped_sales(database, HOURS[1], HOURS[2]))
        writes_before_rerun.append(len(sandbox.helix_writes()))

    restore_then(sandbox, resources, tmp_path, audit_before_the_posting_runs)
    new_writes = sandbox.helix_writes()[writes_before_rerun[0] :]
    hour_3 = (naive(HOURS[3]) - datetime(1970, 1, 1)) // timedelta(milliseconds=1)
    assert new_writes and all(write["time_ms"] >= hour_3 for write in new_writes), "only hour 3's sales were posted"


def test_each_hours_audit_state_shows_in_the_report_and_the_read_api(sandbox, resources, tmp_path):
    database = resources["warehouse"].database
    audited, not_audited = HOURS[0], HOURS[1]
    assert run_hours(resources, audited, not_audited).success
    sandbox.delete_helix_events(sandbox.helix_events()[:1])
    audit(resources, audited, audited)
    sales = len(mapped_sales(database, audited, audited))
    window = [
        "--start",
        f"{naive(audited):%Y-%m-%dT%H:%M}",
        "--end",
        f"{naive(not_audited) + timedelta(hours=1):%Y-%m-%dT%H:%M}",
    ]

    printed = CliRunner().invoke(main, ["report", "helix-audit", "--database", database, "--format", "json", *window])
    assert printed.exit_code == 0, printed.output
    first, second = json.loads(printed.output)
    assert first["state"] == "holds ledger" and first["audited_at"] is not None
    assert (first["held"], first["missing"], first["reposted"], first["adopted"], first["unknown"]) == (
        sales - 1,
        1,
        1,
        0,
        0,
    )
    assert second["state"] == "not audited" and second["held"] is None

    keeper = ReplicaKeeper(database, tmp_path / "replica")
    assert keeper.refresh() == "copied"
    try:
        client = TestClient(create_app(keeper, KeyRing(f"t:{hash_key('jdh_t')}", None), run_replica=False))
        answer = client.get(
            "/v1/helix-audit", headers={"X-API-Key": "jdh_t"}, params={"start": f"{naive(audited):%Y-%m-%dT%H:%M:%S}Z"}
        )
        assert answer.status_code == 200, answer.text
        items = answer.json()["items"]
        assert [item["state"] for item in items[:2]] == ["holds ledger", "not audited"]
        assert items[0]["sale_hour"] == f"{naive(audited):%Y-%m-%dT%H:%M:%S}.000Z"
        assert (items[0]["missing"], items[0]["reposted"], items[0]["still_missing"]) == (1, 1, 0)
        assert (
            client.get(
                "/v1/helix-audit", headers={"X-API-Key": "jdh_t"}, params={"start": "2026-01-02", "end": "2026-01-01"}
            ).status_code
            == 400
        )
    finally:
        keeper.close()


def events_posted(database: str) -> int:
    """The hour's store figures: what store_sales says was posted."""
    return int(query(database, "SELECT coalesce(sum(events_posted), 0) FROM store_sales")[0][0])


def posted_in_ledger(database: str) -> int:
    return int(query(database, "SELECT count(*) FROM helix_events WHERE status = 'posted'")[0][0])


def test_rows_left_pending_that_helix_holds_are_adopted_not_posted_again(sandbox, resources):
    # A run killed after Helix took its batch but before the ledger heard back leaves rows pending.
    database = resources["warehouse"].database
    hour = HOURS[2]
    assert run_hours(resources, hour, hour).success
    with duckdb.connect(database) as conn:
        [(pending,)] = conn.execute(
            "UPDATE helix_events SET status = 'pending', posted_at = NULL WHERE transaction_id IN "
            "(SELECT transaction_id FROM helix_events ORDER BY transaction_id LIMIT 4)"
        ).fetchall()
    assert pending == 4
    # The hour's store figures built while they were pending (a later run's store_sales) lack them.
    assert dg.materialize([store_sales], resources=resources, partition_key=partition_key(hour)).success
    assert events_posted(database) == posted_in_ledger(database) == len(mapped_sales(database, hour, hour)) - 4
    writes = len(sandbox.helix_writes())
    audit(resources, hour, hour)
    assert len(sandbox.helix_writes()) == writes, "nothing posted again"
    [figures] = audit_rows(database).values()
    assert (figures["adopted"], figures["missing"], figures["unknown"]) == (4, 0, 0)
    assert query(database, "SELECT DISTINCT status FROM helix_events") == [(HelixStatus.POSTED,)]
    assert events_posted(database) == len(mapped_sales(database, hour, hour)), "the adopted events count again"


def test_a_repost_that_fails_leaves_the_hours_store_figures_without_it(sandbox, tmp_path, monkeypatch):
    # One try per request: Helix erring while the audit re-posts makes those re-posts fail.
    resources = resources_for(
        sandbox,
        str(tmp_path / "audit.duckdb"),
        audit_requests_per_5s=None,
        audit_requests_per_minute=None,
        max_retries=0,
    )
    assert refresh_dimensions(resources).success
    database = resources["warehouse"].database
    hour = HOURS[2]
    assert run_hours(resources, hour, hour).success
    sales = len(mapped_sales(database, hour, hour))
    assert events_posted(database) == sales
    deleted = sandbox.helix_events()[:2]
    sandbox.delete_helix_events(deleted)

    post_events = VerkadaClient.post_events

    def post_while_helix_errs(self, *args, **kwargs):
        sandbox.faults.update(api="verkada", error_rate=1.0)
        try:
            return post_events(self, *args, **kwargs)
        finally:
            sandbox.faults.reset()

    monkeypatch.setattr(VerkadaClient, "post_events", post_while_helix_errs)
    result = dg.materialize(AUDIT, resources=resources, partition_key=partition_key(hour))
    assert result.success
    [figures] = audit_rows(database).values()
    assert (figures["missing"], figures["reposted"], figures["still_missing"]) == (2, 0, 2)
    assert not all(check_results(result).values()), "helix_holds_ledger is red for the hour"
    failed = {tid for (tid,) in query(database, "SELECT transaction_id FROM helix_events WHERE status = 'failed'")}
    assert failed == {event["attributes"]["transaction_id"] for event in deleted}, "left to helix_retry_sensor"
    assert events_posted(database) == posted_in_ledger(database) == sales - 2
