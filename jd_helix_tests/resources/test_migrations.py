"""The warehouse's migrations: a fresh file gets them all; a warehouse of the previous release
takes them in place with its rows untouched; each runs once; a failed one leaves the version
before; a newer warehouse is refused."""

from datetime import datetime

import duckdb
import pytest

from jd_helix.resources import migrations
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
        assert set(before_tables) | {"transaction_exceptions", "schema_migrations"} == tables(conn)
        versions = conn.execute("SELECT version FROM schema_migrations ORDER BY 1").fetchall()
    assert versions == [(m.version,) for m in migrations.MIGRATIONS]


def test_a_failed_migration_leaves_the_version_before(monkeypatch):
    broken = Migration(LATEST_VERSION + 1, "a broken one", "CREATE TABLE half_done (x INTEGER); SELECT * FROM missing_table")
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
        conn.execute("INSERT INTO schema_migrations VALUES (?, 'from the future', now()::TIMESTAMP)", [LATEST_VERSION + 1])
        with pytest.raises(NewerWarehouseError, match=f"version {LATEST_VERSION + 1}.*up to {LATEST_VERSION}"):
            migrate(conn)
