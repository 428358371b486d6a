"""The API over a warehouse the real assets filled (once per session), through Starlette's TestClient."""

from __future__ import annotations

from datetime import datetime
from typing import overload

import duckdb
import pytest
from fastapi.testclient import TestClient

from jd_helix.api.app import create_app
from jd_helix.api.keys import KeyRing, hash_key
from jd_helix.api.limits import ApiLimits
from jd_helix.api.replica import ReplicaKeeper
from jd_helix_tests.api.warehouse import fill_warehouse

GOOD_KEY = "jdh_test-dashboards-key"
REVOKED_KEY = "jdh_test-old-finance-key"
KEYS = f"dashboards:{hash_key(GOOD_KEY)},finance:{hash_key(REVOKED_KEY)}:revoked"
AUTH = {"X-API-Key": GOOD_KEY}


@pytest.fixture(scope="session")
def warehouse(tmp_path_factory) -> str:
    path = str(tmp_path_factory.mktemp("api_warehouse") / "jd_helix.duckdb")
    fill_warehouse(path)
    return path


@pytest.fixture(scope="session")
def api_app(warehouse, tmp_path_factory):
    keeper = ReplicaKeeper(warehouse, tmp_path_factory.mktemp("api_replica"))
    assert keeper.refresh() == "copied"
    # The suite asks more than a key's default budget a minute; test_limits.py tests the budget.
    app = create_app(
        keeper, KeyRing(KEYS, None), run_replica=False, limits=ApiLimits(requests_per_key_per_minute=1_000_000)
    )
    yield app
    keeper.close()


@pytest.fixture(scope="session")
def client(api_app) -> TestClient:
    return TestClient(api_app)


@pytest.fixture(scope="session")
def sql(warehouse):
    """Rows of a query straight on the warehouse file, to compare the API with."""

    def run(query: str, params=None) -> list[tuple]:
        with duckdb.connect(warehouse, read_only=True) as conn:
            return conn.execute(query, params or {}).fetchall()

    return run


def get_all(client: TestClient, path: str, limit: int = 37, **params) -> list[dict]:
    """Every item of a list, following next_cursor page by page."""
    items, cursor = [], None
    while True:
        query = {**params, "limit": limit, **({"cursor": cursor} if cursor else {})}
        response = client.get(path, params=query, headers=AUTH)
        assert response.status_code == 200, response.text
        page = response.json()
        assert len(page["items"]) <= limit
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items


@overload
def instant(value: datetime) -> str: ...
@overload
def instant(value: None) -> None: ...
def instant(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat(timespec="milliseconds") + "Z"
