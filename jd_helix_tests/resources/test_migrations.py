"""The warehouse's migrations: a fresh file gets them all; a warehouse of the previous release
takes them in place with its rows untouched; each runs once; a failed one leaves the version
before; a newer warehouse is refused."""

from datetime import datetime

import duckdb
import pytest

from jd_helix.domain.default_event_type import DEFAULT_EVENT_TYPE_UID_SQL
from jd_helix.resources import migrations
from jd_helix.resources.migrated_schema import migrated_tables, tables_of
from jd_helix.resources.migrations import LATEST_VERSION, Migration, NewerWarehouseError, migrate, schema_version
from jd_helix.resources.warehouse import WarehouseResource
from jd_helix_tests.resources.previous_release import PREVIOUS_RELEASE_SCHEMA, previous_release_tables

LEDGER_ROW = ("t1", datetime(2026, 1, 1, 10), "cam", "uid", 1767261600123, "posted", None, 1, None, None, None, None)


def tables(conn) -> set[str]:
    return {row[0] for row in conn.execute("SELECT table_name FROM duckdb_tables()").fetchall()}


def test_a_fresh_warehouse_gets_every_migration_once():
    with duckdb.connect() as conn:
        applied = migrate(conn)
        assert [m.version for m in applied] == [m.version for m in migrations.MIGRATIONS]
        assert schema_version(conn) == LATEST_VERSION
        assert {"helix_events", "jd_transactions", "transaction_exceptions", "schema_migrations"} <= tables(conn)
        assert migrate(conn) == []  # already up to date: nothing runs again


def test_a_previous_release_warehouse_migrates_in_place_with_its_rows_untouched(tmp_path):
    path = str(tmp_path / "previous.duckdb")
    with duckdb.connect(path) as conn:
        conn.execute(PREVIOUS_RELEASE_SCHEMA)
        before_tables = previous_release_tables(conn)
        conn.execute("INSERT INTO helix_events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", list(LEDGER_ROW))
        conn.execute("INSERT INTO jd_stores VALUES ('S1', 'One', NULL, NULL, NULL, NULL)")
    warehouse = WarehouseResource(database=path)
    with warehouse.read() as conn:  # the first connection of this process migrates it
        assert schema_version(conn) == LATEST_VERSION
        assert conn.execute("SELECT * FROM helix_events").fetchall() == [LEDGER_ROW]
        assert conn.execute("SELECT store_id, store_name FROM jd_stores").fetchall() == [("S1", "One")]
        assert set(before_tables) | {
            "transaction_exceptions",
            "schema_migrations",
            "helix_destination",
            "helix_audit",
        } == tables(conn)
        versions = conn.execute("SELECT version FROM schema_migrations ORDER BY 1").fetchall()
    assert versions == [(m.version,) for m in migrations.MIGRATIONS]


def test_a_failed_migration_leaves_the_version_before(monkeypatch):
    broken = Migration(
        LATEST_VERSION + 1, "a broken one", "CREATE TABLE half_done (x INTEGER); SELECT * FROM missing_table"
    )
    monkeypatch.setattr(migrations, "MIGRATIONS", (*migrations.MIGRATIONS, broken))
    monkeypatch.setattr(migrations, "LATEST_VERSION", broken.version)
    with duckdb.connect() as conn:
        with pytest.raises(duckdb.CatalogException, match="missing_table"):
            migrate(conn)
        assert schema_version(conn) == LATEST_VERSION
        assert "half_done" not in tables(conn)


def test_a_warehouse_of_a_newer_release_is_refused():
    with duckdb.connect() as conn:
        migrate(conn)
        conn.execute(
            "INSERT INTO schema_migrations VALUES (?, 'from the future', now()::TIMESTAMP)", [LATEST_VERSION + 1]
        )
        with pytest.raises(NewerWarehouseError, match=f"version {LATEST_VERSION + 1}.*up to {LATEST_VERSION}"):
            migrate(conn)


def _previous_release_ledger(path: str, destination: str | None) -> None:
    with duckdb.connect(path) as conn:
        conn.execute(PREVIOUS_RELEASE_SCHEMA)
        conn.execute("INSERT INTO helix_events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", list(LEDGER_ROW))
        # as that release left them: an unmapped sale and one too old for Helix, no event type
        conn.execute(
            "INSERT INTO helix_events (transaction_id, sale_hour, status, attempts) VALUES ('t2', '2026-01-01 10:00', 'unmapped', 0)"
        )
        conn.execute(
            "INSERT INTO helix_events (transaction_id, sale_hour, verkada_camera_id, status, reason, attempts) "
            "VALUES ('t3', '2026-01-01 10:00', 'cam', 'skipped', 'older than 30 days', 0)"
        )
        if destination:
            conn.execute(
                "CREATE TABLE helix_destination (api_base_url VARCHAR NOT NULL, event_type_uid VARCHAR NOT NULL, recorded_at TIMESTAMP)"
            )
            conn.execute("INSERT INTO helix_destination VALUES ('https://api.verkada.com', ?, NULL)", [destination])


def test_the_ledger_is_keyed_by_transaction_and_event_type_after_migrating(tmp_path):
    path = str(tmp_path / "previous.duckdb")
    _previous_release_ledger(path, destination="uid")
    with WarehouseResource(database=path).get_connection() as conn:  # autocommit: each refusal on its own
        rows = conn.execute("SELECT transaction_id, event_type_uid, status FROM helix_events ORDER BY 1").fetchall()
        assert rows == [("t1", "uid", "posted"), ("t2", "uid", "unmapped"), ("t3", "uid", "skipped")]
        assert conn.execute("SELECT * FROM helix_events WHERE transaction_id = 't1'").fetchall() == [LEDGER_ROW]
        # one sale, another event type: its own row; the same pair twice: refused
        conn.execute(
            "INSERT INTO helix_events (transaction_id, sale_hour, event_type_uid, status) VALUES ('t1', '2026-01-01 10:00', 'other', 'pending')"
        )
        with pytest.raises(duckdb.ConstraintException):
            conn.execute(
                "INSERT INTO helix_events (transaction_id, sale_hour, event_type_uid, status) VALUES ('t1', '2026-01-01 10:00', 'uid', 'pending')"
            )
        with pytest.raises(duckdb.ConstraintException):  # the triple stays unique
            conn.execute(
                "INSERT INTO helix_events VALUES ('t9', '2026-01-01 10:00', 'cam', 'uid', ?, 'pending', NULL, 0, NULL, NULL, NULL, NULL)",
                [LEDGER_ROW[4]],
            )


def test_never_sent_rows_without_a_known_event_type_are_left_for_the_next_run_to_record(tmp_path):
    path = str(tmp_path / "previous.duckdb")
    _previous_release_ledger(path, destination=None)
    with WarehouseResource(database=path).read() as conn:
        assert conn.execute("SELECT transaction_id, event_type_uid FROM helix_events").fetchall() == [("t1", "uid")]


def test_a_previous_release_warehouse_ends_with_the_tables_the_asset_pages_show(tmp_path):
    # The asset pages take their columns from a fresh warehouse (migrated_schema.py); one the
    # previous release wrote holds the same tables, columns, types, nulls and keys once migrated.
    path = str(tmp_path / "previous.duckdb")
    _previous_release_ledger(path, destination="uid")
    with WarehouseResource(database=path).read() as conn:
        assert tables_of(conn) == migrated_tables()
    assert {"jd_transactions", "helix_events", "helix_audit"} <= set(migrated_tables())


def test_the_default_event_type_of_a_ledger_with_several_types_is_recorded_on_migrating(monkeypatch):
    from jd_helix.defs.helix.destination import record_destination

    def default_event_type_uid(conn) -> str | None:
        return conn.execute(f"SELECT {DEFAULT_EVENT_TYPE_UID_SQL}").fetchone()[0]

    with duckdb.connect() as conn:
        # A warehouse of the release before (version 4): two types, the order they were declared in not kept.
        with monkeypatch.context() as before:
            before.setattr(migrations, "MIGRATIONS", migrations.MIGRATIONS[:4])
            before.setattr(migrations, "LATEST_VERSION", 4)
            migrate(conn)
        conn.execute(
            "INSERT INTO helix_destination VALUES ('https://api.verkada.com', 'a-refunds', NULL), "
            "('https://api.verkada.com', 'z-every-sale', NULL)"
        )
        for tid in ("t1", "t2", "t3"):
            conn.execute(
                "INSERT INTO helix_events (transaction_id, sale_hour, event_type_uid, status) "
                "VALUES (?, '2026-01-01 10:00', 'z-every-sale', 'posted')",
                [tid],
            )
        conn.execute(
            "INSERT INTO helix_events (transaction_id, sale_hour, event_type_uid, status) "
            "VALUES ('t2', '2026-01-01 10:00', 'a-refunds', 'posted')"
        )
        migrate(conn)
        # The type that takes the most sales stands for the default until the next pinning says.
        assert default_event_type_uid(conn) == "z-every-sale"
        record_destination(conn, ":memory:", "https://api.verkada.com", ["a-refunds", "z-every-sale"], datetime.now())
        assert default_event_type_uid(conn) == "a-refunds"
        assert conn.execute(
            "SELECT event_type_uid, declared_position FROM helix_destination ORDER BY 2"
        ).fetchall() == [("a-refunds", 0), ("z-every-sale", 1)]
