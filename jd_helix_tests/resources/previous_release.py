"""Warehouses as the release before migrations wrote them (its schema, verbatim, in
previous_release_schema.sql)."""

from pathlib import Path

import duckdb

PREVIOUS_RELEASE_SCHEMA = (Path(__file__).parent / "previous_release_schema.sql").read_text()


def previous_release_tables(conn: duckdb.DuckDBPyConnection) -> list[str]:
    return [
        row[0]
        for row in conn.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() ORDER BY 1"
        ).fetchall()
    ]


def write_previous_release_warehouse(path: str, rows_from: str | None = None) -> None:
    """A warehouse file of the previous release at `path`: its schema, and with `rows_from` (a
    warehouse the pipeline wrote) every row of that file's tables of the same names, column by
    column of the previous release's tables, plus its helix_destination."""
    with duckdb.connect(path) as conn:
        conn.execute(PREVIOUS_RELEASE_SCHEMA)
        if rows_from is None:
            return
        conn.execute("ATTACH ? AS written (READ_ONLY)", [rows_from])
        for table in previous_release_tables(conn):
            columns = ", ".join(
                name
                for (name,) in conn.execute(
                    "SELECT column_name FROM duckdb_columns() WHERE database_name = current_database() "
                    "AND table_name = ? ORDER BY column_index",
                    [table],
                ).fetchall()
            )
            conn.execute(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM written.{table}")
        conn.execute("CREATE TABLE helix_destination AS SELECT * FROM written.helix_destination")
        conn.execute("DETACH written")
        # That release gave an event type only to the rows it pinned a triple for.
        conn.execute("UPDATE helix_events SET event_type_uid = NULL WHERE time_ms IS NULL")
