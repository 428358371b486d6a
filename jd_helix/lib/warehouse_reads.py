"""Sensors read the warehouse without waiting: a run writing it means "try next tick"."""

from jd_helix.resources.warehouse import WarehouseResource, open_read_only

WAREHOUSE_BUSY = "the warehouse is being written (or does not exist yet); trying next tick"


def read_warehouse(warehouse: WarehouseResource, sql: str, params: list) -> list[tuple] | None:
    """Rows of `sql` on a read-only connection, or None while a run writes the file (sensors never wait)."""
    conn = open_read_only(warehouse.database)
    if conn is None:
        return None
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()
