"""The warehouse's connections: reads are really read-only, and a failed write lets go of the file."""

import subprocess
import sys
import textwrap

import duckdb
import pytest

from jd_helix.resources.warehouse import WarehouseResource


@pytest.fixture
def warehouse(tmp_path):
    return WarehouseResource(database=str(tmp_path / "warehouse.duckdb"))


def _other_process(code: str, timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=timeout
    )


def test_a_second_process_can_open_the_file_right_after_a_failed_write(warehouse):
    with pytest.raises(RuntimeError, match="boom") as failure, warehouse.write() as conn:
        conn.execute("INSERT INTO jd_stores (store_id) VALUES ('s1')")
        raise RuntimeError("boom")
    assert failure.value is not None  # the exception (and its traceback) is still alive here
    other = _other_process(
        f"""
        import duckdb
        conn = duckdb.connect({warehouse.database!r})
        print(conn.execute("SELECT count(*) FROM jd_stores").fetchone()[0])
        conn.close()
        """
    )
    assert other.returncode == 0, other.stderr
    assert other.stdout.strip() == "0"  # and the failed write was rolled back


def test_reads_are_read_only(warehouse):
    with warehouse.write() as conn:
        conn.execute("INSERT INTO jd_stores (store_id) VALUES ('s1')")
    with warehouse.read() as conn:
        assert conn.execute("SELECT store_id FROM jd_stores").fetchall() == [("s1",)]
        with pytest.raises(duckdb.Error, match="read-only"):
            conn.execute("INSERT INTO jd_stores (store_id) VALUES ('s2')")


def test_a_read_shares_the_file_with_another_reading_process(warehouse):
    """A read neither writes nor re-runs the schema: it works while another process reads."""
    with warehouse.write() as conn:
        conn.execute("INSERT INTO jd_stores (store_id) VALUES ('s1')")
    reader = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import sys, duckdb
                conn = duckdb.connect({warehouse.database!r}, read_only=True)
                print("open", flush=True)
                sys.stdin.readline()
                conn.close()
                """
            ),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert reader.stdout is not None and reader.stdout.readline().strip() == "open"
        with warehouse.read() as conn:
            assert conn.execute("SELECT count(*) FROM jd_stores").fetchone() == (1,)
    finally:
        reader.communicate("\n", timeout=30)
    assert reader.returncode == 0
