"""A warehouse the API cannot serve is said so, truthfully, by the reports and by /healthz,
and the server's paths stay on the server."""

from __future__ import annotations

import stat

import duckdb
import pytest
from fastapi.testclient import TestClient

from jd_helix.api.app import create_app
from jd_helix.api.keys import KeyRing
from jd_helix.api.replica import ReplicaKeeper
from jd_helix.resources.migrations import migrate
from jd_helix_tests.api.conftest import AUTH, KEYS


def _serve(database, tmp_path) -> tuple[ReplicaKeeper, TestClient]:
    keeper = ReplicaKeeper(str(database), tmp_path / "replica")
    return keeper, TestClient(create_app(keeper, KeyRing(KEYS, None), run_replica=False))


@pytest.fixture
def without_store_sales(tmp_path):
    path = tmp_path / "jd_helix.duckdb"
    with duckdb.connect(str(path)) as conn:
        migrate(conn)
        conn.execute("DROP TABLE store_sales")
    return path


def test_a_missing_table_is_a_503_not_a_python_object_of_the_same_name(without_store_sales, tmp_path):
    keeper, client = _serve(without_store_sales, tmp_path)
    assert keeper.refresh() == "copied"
    for path in ("/v1/sales", "/v1/stores"):
        response = client.get(path, headers=AUTH)
        assert response.status_code == 503, response.text
        problem = response.json()
        assert problem["type"] == "urn:jd-helix:problem:warehouse-incomplete"
        assert "store_sales does not exist" in problem["detail"]
    assert client.get("/v1/transactions", headers=AUTH).status_code == 200  # its tables are there
    keeper.close()


def test_health_says_which_tables_are_missing(without_store_sales, tmp_path):
    keeper, client = _serve(without_store_sales, tmp_path)
    keeper.refresh()
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["status"] == "incomplete" and "store_sales" in response.json()["detail"]
    keeper.close()


def test_a_file_that_is_not_duckdb_is_called_so_without_the_servers_path(tmp_path):
    garbage = tmp_path / "jd_helix.duckdb"
    garbage.write_bytes(b"not a database\n" * 1000)
    keeper, client = _serve(garbage, tmp_path)
    assert keeper.refresh() == "invalid"
    response = client.get("/v1/transactions", headers=AUTH)
    assert response.status_code == 503
    detail = response.json()["detail"]
    assert "not a DuckDB database" in detail and "writing" not in detail
    assert str(tmp_path) not in response.text
    health = client.get("/healthz")
    assert health.status_code == 503 and health.json()["status"] == "invalid"
    assert str(tmp_path) not in health.text


def test_a_missing_warehouse_is_named_without_the_servers_path(tmp_path):
    keeper, client = _serve(tmp_path / "nowhere" / "jd_helix.duckdb", tmp_path)
    assert keeper.refresh() == "missing"
    response = client.get("/v1/stores", headers=AUTH)
    assert response.status_code == 503 and "jd_helix.duckdb does not exist yet" in response.json()["detail"]
    assert str(tmp_path) not in response.text
    assert client.get("/healthz").json()["status"] == "no_data"


def test_the_copy_is_private_whatever_the_warehouse_and_umask(without_store_sales, tmp_path):
    without_store_sales.chmod(0o644)
    replica = tmp_path / "replica"
    replica.mkdir(mode=0o755)  # as an older release left it
    replica.chmod(0o755)
    keeper = ReplicaKeeper(str(without_store_sales), replica)
    keeper.refresh()
    assert stat.S_IMODE(replica.stat().st_mode) == 0o700
    copies = list(replica.iterdir())
    assert copies and all(stat.S_IMODE(copy.stat().st_mode) == 0o600 for copy in copies)
    keeper.close()
