"""What a client gets wrong gets a 4xx naming the parameter, never a 500."""

from __future__ import annotations

from datetime import timedelta

import pytest

from jd_helix_tests.api.conftest import AUTH
from jd_helix_tests.api.warehouse import POSTED_HOURS


@pytest.mark.parametrize(
    ("path", "parameter", "words"),
    [
        ("/v1/transactions?start=2026-13-01", "start", "not an ISO 8601"),
        ("/v1/transactions?start=yesterday", "start", "not an ISO 8601"),
        ("/v1/transactions?start=2026-11-28T09:00", "start", "no zone"),
        ("/v1/transactions?start=2026-11-28T10:00:00+01:00", "start", "%2B"),
        ("/v1/transactions?end=0001-01-01T00:00:00%2B14:00", "end", "out of range"),
        ("/v1/sales?start=2026-11-28&end=2026-11-28", "end", "later than start"),
        ("/v1/transactions?limit=0", "limit", "greater than or equal to 1"),
        ("/v1/stores?limit=1001", "limit", "less than or equal to 1000"),
        ("/v1/stores?limit=ten", "limit", "integer"),
        ("/v1/sales?granularity=week", "granularity", "hour"),
        ("/v1/transactions?helix_status=lost", "helix_status", "posted"),
        ("/v1/transactions?store_id=no-such-store", "store_id", "no store 'no-such-store'"),
        ("/v1/sales?store_id=no-such-store", "store_id", "no store"),
        ("/v1/transactions?cursor=not-a-cursor", "cursor", "not a cursor"),
        ("/v1/stores?cursor=eyJ2IjoxfQ", "cursor", "not a cursor"),
    ],
)
def test_a_bad_parameter_is_a_400_that_names_it(client, path, parameter, words):
    response = client.get(path, headers=AUTH)
    assert response.status_code == 400, response.text
    problem = response.json()
    assert [e["parameter"] for e in problem["errors"]] == [parameter]
    assert words in problem["detail"]


def test_a_cursor_only_continues_its_own_query(client):
    first = client.get("/v1/transactions", params={"limit": 3, "helix_status": "posted"}, headers=AUTH).json()
    other = client.get("/v1/transactions", params={"limit": 3, "cursor": first["next_cursor"]}, headers=AUTH)
    assert other.status_code == 400
    assert "another query" in other.json()["detail"]
    # and with its own filters it continues where the first page ended
    same = client.get(
        "/v1/transactions", params={"limit": 3, "helix_status": "posted", "cursor": first["next_cursor"]}, headers=AUTH
    )
    assert same.status_code == 200
    assert same.json()["items"][0]["transaction_at"] >= first["items"][-1]["transaction_at"]


def test_unknown_store_in_the_path_is_a_404(client):
    for path in ("/v1/stores/no-such-store/sales", "/v1/stores/no-such-store/transactions"):
        response = client.get(path, headers=AUTH)
        assert response.status_code == 404 and "no-such-store" in response.json()["detail"]


def test_zones_and_dates_are_read_as_utc_instants(client):
    # From the second posted hour on: the same instant written in UTC and an hour ahead of it.
    start = POSTED_HOURS[1]
    in_utc = start.strftime("%Y-%m-%dT%H:%M:%SZ")
    an_hour_ahead = (start + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S+01:00")
    utc = client.get("/v1/transactions", params={"start": in_utc, "limit": 1}, headers=AUTH)
    offset = client.get("/v1/transactions", params={"start": an_hour_ahead, "limit": 1}, headers=AUTH)
    assert utc.status_code == offset.status_code == 200
    assert utc.json()["items"] and utc.json()["items"] == offset.json()["items"]
    assert utc.json()["items"][0]["transaction_at"] >= start.isoformat()[:19]
    day = client.get("/v1/sales", params={"start": f"{POSTED_HOURS[0]:%Y-%m-%d}", "granularity": "day"}, headers=AUTH)
    assert day.status_code == 200 and day.json()["items"]


def test_unknown_paths_and_methods_are_problems_too(client):
    assert client.get("/v1/nothing", headers=AUTH).json()["status"] == 404
    response = client.post("/v1/transactions", headers=AUTH)
    assert response.status_code == 405 and response.json()["status"] == 405
