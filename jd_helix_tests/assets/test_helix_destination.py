"""The ledger remembers which Helix it posted to, and a warehouse holding another Helix's
rows is refused - before any request - until a fresh ledger is started on purpose."""

from __future__ import annotations

import re
from collections import Counter
from datetime import datetime

import dagster as dg
import duckdb
import pytest
from click.testing import CliRunner

from jd_helix.cli.ledger import ledger_command
from jd_helix.defs.helix.destination import OtherHelixError, check_destination, record_destination
from jd_helix.resources.warehouse import WarehouseResource
from jd_helix.sandbox import Sandbox, SandboxConfig
from jd_helix_tests.e2e.harness import query, recent_hours, refresh_dimensions, resources_for, run_hour

HOUR = recent_hours(1)[0]
CONFIG = SandboxConfig(
    seed=5,
    stores=2,
    pos_per_store=2,
    items=10,
    fixed_sales_per_hour=30,
    rate_limit_per_5s=None,
    rate_limit_per_minute=None,
    batch_delay_s=0.02,
)
NOW = datetime(2026, 1, 1)


def failure_message(result: dg.ExecuteInProcessResult) -> str:
    error = result.get_step_failure_events()[0].event_specific_data.error
    return "\n".join(filter(None, [error.message, error.cause.message if error.cause else None]))


def test_a_warehouse_posted_to_one_helix_is_refused_by_another_until_started_fresh(tmp_path):
    database = str(tmp_path / "w.duckdb")
    with Sandbox.running(CONFIG, port=0) as first, Sandbox.running(CONFIG, port=0) as second:
        resources = resources_for(first, database)
        assert refresh_dimensions(resources).success and run_hour(resources, HOUR).success
        posted = query(database, "SELECT count(*) FROM helix_events WHERE status = 'posted'")[0][0]
        assert posted > 0
        assert query(database, "SELECT api_base_url FROM helix_destination") == [(first.verkada_base_url,)]

        moved = resources_for(second, database)
        refused = run_hour(moved, HOUR, raise_on_error=False)
        assert not refused.success
        message = failure_message(refused)
        assert first.verkada_base_url in message and second.verkada_base_url in message
        assert f"jd-helix ledger start-fresh --database {database}" in message
        assert f"holds {posted} events posted" in message
        assert not any(api == "verkada" for api, _, _ in second.stats()), "refused before any request to the new Helix"

        started = CliRunner().invoke(ledger_command, ["start-fresh", "--database", database])
        assert started.exit_code == 0, started.output
        assert run_hour(moved, HOUR).success
        assert query(database, "SELECT api_base_url FROM helix_destination") == [(second.verkada_base_url,)]
        per_sale = Counter(e["attributes"]["transaction_id"] for e in second.helix_events())
        assert len(per_sale) == posted and set(per_sale.values()) == {1}
        (archive,) = [
            t
            for (t,) in query(
                database, "SELECT table_name FROM duckdb_tables() WHERE table_name LIKE 'helix_events_until_%'"
            )
        ]
        assert query(database, f"SELECT count(*) FROM {archive} WHERE status = 'posted'")[0][0] == posted


@pytest.fixture
def conn(tmp_path):
    with WarehouseResource(database=str(tmp_path / "w.duckdb")).write() as connection:
        yield connection


def pin_one(conn: duckdb.DuckDBPyConnection, uid: str, status: str) -> None:
    conn.execute(
        "INSERT INTO helix_events (transaction_id, sale_hour, verkada_camera_id, event_type_uid, time_ms, status) "
        "VALUES ('t1', ?, 'cam', ?, 1, ?)",
        [NOW, uid, status],
    )


def test_another_event_type_on_the_same_helix_is_refused_once_triples_are_pinned(conn):
    record_destination(conn, "db", "https://api.verkada.com", ["uid-1"], NOW)
    pin_one(conn, "uid-1", "pending")
    check_destination(conn, "db", "https://api.verkada.com")  # before the request: only the URL is known
    with pytest.raises(OtherHelixError, match="event type uid-2"):
        record_destination(conn, "db", "https://api.verkada.com", ["uid-2"], NOW)


def test_a_ledger_without_pinned_rows_follows_the_configured_helix(conn):
    record_destination(conn, "db", "https://api.verkada.com", ["uid-1"], NOW)
    conn.execute(
        "INSERT INTO helix_events (transaction_id, sale_hour, event_type_uid, status) VALUES ('t2', ?, 'uid-1', 'unmapped')",
        [NOW],
    )
    record_destination(conn, "db", "https://api.eu.verkada.com", ["uid-9"], NOW)
    assert conn.execute("SELECT api_base_url, event_type_uid FROM helix_destination").fetchall() == [
        ("https://api.eu.verkada.com", "uid-9")
    ]
    # the never-sent row of the old event type goes: the next pinning records it for uid-9
    assert conn.execute("SELECT count(*) FROM helix_events").fetchone() == (0,)


def test_several_event_types_of_one_helix_are_one_destination(conn):
    record_destination(conn, "db", "https://api.verkada.com", ["uid-1"], NOW)
    pin_one(conn, "uid-1", "posted")
    record_destination(conn, "db", "https://api.verkada.com", ["uid-1", "uid-2"], NOW)  # a type declared later
    assert sorted(conn.execute("SELECT event_type_uid FROM helix_destination").fetchall()) == [("uid-1",), ("uid-2",)]
    record_destination(conn, "db", "https://api.verkada.com", ["uid-2", "uid-1"], NOW)
    with pytest.raises(OtherHelixError, match="event type uid-3"):  # none of the pinned types: another Helix
        record_destination(conn, "db", "https://api.verkada.com", ["uid-3"], NOW)
    with pytest.raises(OtherHelixError, match=re.escape("https://api.eu.verkada.com")):
        record_destination(conn, "db", "https://api.eu.verkada.com", ["uid-1", "uid-2"], NOW)
