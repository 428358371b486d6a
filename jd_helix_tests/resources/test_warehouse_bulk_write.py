"""A bulk write (an hour's rows at once) spills beyond a memory limit; other writes keep DuckDB's default."""

from jd_helix.resources.warehouse import WarehouseResource


def memory_limit(conn) -> str:
    return conn.execute("SELECT current_setting('memory_limit')").fetchone()[0]


def test_only_a_bulk_write_caps_duckdbs_memory(tmp_path):
    warehouse = WarehouseResource(database=str(tmp_path / "w.duckdb"))
    with warehouse.write() as conn:
        default = memory_limit(conn)
    with warehouse.write(bulk=True) as conn:
        assert memory_limit(conn) == "122.0 MiB"  # 128 MB as DuckDB shows it
    with warehouse.write() as conn:
        assert memory_limit(conn) == default != "122.0 MiB"  # a fresh instance: the cap did not stay
