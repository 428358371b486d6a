"""The warehouse's tables as the migrations leave them: each table's columns (name, type, null
or not) and primary key, read from DuckDB itself.

The migrations (migrations.py) are the one place the tables are written down; what needs the
columns before any warehouse is open (the asset pages' column schemas, lib/tables.py) reads
them here instead of repeating them. They are read once per process, on first use, from an
in-memory DuckDB that takes every migration: about 90 ms (a first DuckDB connection, the
migrations, the catalogue queries), 3 % of the 2.8 s a process takes to load the code location,
rather than a generated copy of the columns to regenerate after each migration.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import duckdb

from jd_helix.resources.migrations import migrate


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # as DuckDB names it: VARCHAR, DECIMAL(18,2), TIMESTAMP, ...
    nullable: bool


@dataclass(frozen=True)
class Table:
    columns: tuple[Column, ...]  # in the table's order
    primary_key: tuple[str, ...]  # empty when it has none


@cache
def migrated_tables() -> dict[str, Table]:
    """Every table of a warehouse that took all the migrations, by name."""
    with duckdb.connect(":memory:") as conn:
        migrate(conn)
        return tables_of(conn)


def tables_of(conn: duckdb.DuckDBPyConnection) -> dict[str, Table]:
    """Every table of `conn`'s database, by name."""
    keys = {
        table: tuple(columns)
        for table, columns in conn.execute(
            "SELECT table_name, constraint_column_names FROM duckdb_constraints() "
            "WHERE database_name = current_database() AND constraint_type = 'PRIMARY KEY'"
        ).fetchall()
    }
    columns: dict[str, list[Column]] = {}
    for table, name, kind, nullable in conn.execute(
        "SELECT table_name, column_name, data_type, is_nullable = 'YES' FROM information_schema.columns "
        "WHERE table_catalog = current_database() AND table_schema = 'main' ORDER BY table_name, ordinal_position"
    ).fetchall():
        columns.setdefault(table, []).append(Column(name, kind, nullable))
    return {table: Table(tuple(cols), keys.get(table, ())) for table, cols in columns.items()}
