"""The API answers while a run writes: it reads its own copy, taken when the warehouse is free."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime, timedelta

import duckdb
import pytest
from fastapi.testclient import TestClient

from jd_helix.api.app import create_app
from jd_helix.api.keys import KeyRing
from jd_helix.api.replica import ReplicaKeeper
from jd_helix.resources.migrations import migrate
from jd_helix_tests.api.conftest import AUTH, KEYS

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
# A run's writer in its own process (DuckDB's lock is per process): it writes a store's
# sales, says so, and holds the file until told to commit.
WRITER = textwrap.dedent(
    """
    import sys, duckdb
    conn = duckdb.connect(sys.argv[1])
    conn.execute("INSERT INTO store_sales VALUES ('2026-03-02 10:00', 'S2', 'Two', 3, 30.00, 3, NULL)")
    print("holding", flush=True)
    sys.stdin.readline()
    conn.close()
    """
)


class FakeClock:
    def __init__(self):
        self.now = T0

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=10)
        return self.now


@pytest.fixture
def small_warehouse(tmp_path) -> str:
    path = str(tmp_path / "jd_helix.duckdb")
    with duckdb.connect(path) as conn:
        migrate(conn)
        conn.execute("INSERT INTO store_sales VALUES ('2026-03-02 09:00', 'S1', 'One', 2, 19.98, 2, NULL)")
    return path


def _stores(client) -> tuple[list[str], str]:
    page = client.get("/v1/stores", headers=AUTH).json()
    return [s["store_id"] for s in page["items"]], page["as_of"]


def test_reads_go_on_from_the_last_copy_while_a_run_holds_the_warehouse(small_warehouse, tmp_path):
    clock = FakeClock()
    keeper = ReplicaKeeper(small_warehouse, tmp_path / "replica", clock=clock)
    client = TestClient(create_app(keeper, KeyRing(KEYS, None), run_replica=False))
    assert keeper.refresh() == "copied"
    copied_at = keeper.as_of
    assert keeper.refresh() == "unchanged"  # nothing new: no copy, no lock taken...
    assert keeper.as_of is not None and copied_at is not None
    assert keeper.as_of > copied_at  # ...and the copy is known to be current as of now
    before = _stores(client)
    assert before[0] == ["S1"]

    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, small_warehouse], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert writer.stdout is not None  # stdout=PIPE
    try:
        assert writer.stdout.readline().strip() == "holding"
        assert keeper.refresh() == "busy"
        assert _stores(client) == before  # same rows, same as_of: nothing half-written shows
        status = client.get("/v1/status", headers=AUTH).json()
        assert status["refresh"]["last_outcome"] == "busy" and status["refresh"]["busy_since"] is not None
        writer.communicate("commit\n", timeout=30)
    finally:
        writer.kill()

    assert keeper.refresh() == "copied"
    after = _stores(client)
    assert after[0] == ["S1", "S2"]
    assert after[1] > before[1]
    assert client.get("/v1/status", headers=AUTH).json()["refresh"]["busy_since"] is None
    keeper.close()


def test_a_replaced_copy_serves_its_readers_to_the_end_then_goes(small_warehouse, tmp_path):
    keeper = ReplicaKeeper(small_warehouse, tmp_path / "replica", clock=FakeClock())
    keeper.refresh()
    with keeper.reader() as (old, conn):
        with duckdb.connect(small_warehouse) as writer:
            writer.execute("INSERT INTO store_sales VALUES ('2026-03-02 10:00', 'S3', 'Three', 1, 5.00, 1, NULL)")
        assert keeper.refresh() == "copied"
        assert conn.execute("SELECT count(*) FROM store_sales").fetchone() == (1,)  # still the old copy
        assert old.path.exists()
    assert not old.path.exists()
    with keeper.reader() as (_, conn):
        assert conn.execute("SELECT count(*) FROM store_sales").fetchone() == (2,)
    keeper.close()
    assert not (tmp_path / "replica").exists()  # the copies, and their folder, go at shutdown


def test_before_the_pipeline_ran_the_api_says_so(tmp_path):
    keeper = ReplicaKeeper(str(tmp_path / "none.duckdb"), tmp_path / "replica")
    client = TestClient(create_app(keeper, KeyRing(KEYS, None), run_replica=False))
    assert keeper.refresh() == "missing"
    response = client.get("/v1/transactions", headers=AUTH)
    assert response.status_code == 503
    assert "does not exist yet" in response.json()["detail"] and response.headers["Retry-After"]
    assert client.get("/healthz").status_code == 503


def test_the_background_refresher_picks_up_new_data(small_warehouse, tmp_path):
    keeper = ReplicaKeeper(small_warehouse, tmp_path / "replica")
    app = create_app(keeper, KeyRing(KEYS, None), refresh_interval_s=0.05)
    with TestClient(app) as client:  # runs the lifespan: the refresher thread
        first = _wait_for(client, lambda stores: stores == ["S1"])
        with duckdb.connect(small_warehouse) as writer:
            writer.execute("INSERT INTO store_sales VALUES ('2026-03-02 11:00', 'S4', 'Four', 1, 5.00, 1, NULL)")
        second = _wait_for(client, lambda stores: stores == ["S1", "S4"])
        assert second[1] > first[1]


def _wait_for(client, condition, attempts: int = 200):
    for _ in range(attempts):
        if client.get("/v1/status", headers=AUTH).status_code == 200:
            stores = _stores(client)
            if condition(stores[0]):
                return stores
        time.sleep(0.05)
    raise AssertionError("the refresher did not pick up the change")
