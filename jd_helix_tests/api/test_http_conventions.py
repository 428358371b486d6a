"""What client teams expect of an HTTP API: problem+json with a type, ETag and 304, gzip,
`Link: rel="next"`, unknown parameters refused, CORS for allowed origins, HEAD, and docs
that work without the internet."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from jd_helix.api.app import create_app
from jd_helix.api.keys import KeyRing
from jd_helix.api.limits import ApiLimits
from jd_helix.api.replica import ReplicaKeeper
from jd_helix_tests.api.conftest import AUTH, KEYS


@pytest.mark.parametrize(
    ("path", "headers", "status", "kind"),
    [
        ("/v1/stores?limit=0", AUTH, 400, "urn:jd-helix:problem:bad-parameter"),
        ("/v1/transactions?start=yesterday", AUTH, 400, "urn:jd-helix:problem:bad-parameter"),
        ("/v1/stores", {}, 401, "urn:jd-helix:problem:no-key"),
        ("/v1/transactions/no-such-sale", AUTH, 404, "urn:jd-helix:problem:not-found"),
        ("/v1/nothing", AUTH, 404, "about:blank"),
    ],
)
def test_errors_are_problem_json_with_a_type(client, path, headers, status, kind):
    response = client.get(path, headers=headers)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == kind and response.json()["status"] == status


def test_a_page_the_client_has_is_a_304(client):
    first = client.get("/v1/transactions", params={"limit": 5}, headers=AUTH)
    etag = first.headers["ETag"]
    assert re.fullmatch(r'W/"[0-9a-f]{32}"', etag)
    again = client.get("/v1/transactions", params={"limit": 5}, headers={**AUTH, "If-None-Match": etag})
    assert again.status_code == 304 and again.content == b"" and again.headers["ETag"] == etag
    strong = etag.removeprefix("W/")  # If-None-Match compares weakly
    assert (
        client.get(
            "/v1/transactions", params={"limit": 5}, headers={**AUTH, "If-None-Match": f'"x", {strong}'}
        ).status_code
        == 304
    )
    other = client.get("/v1/transactions", params={"limit": 6}, headers={**AUTH, "If-None-Match": etag})
    assert other.status_code == 200 and other.headers["ETag"] != etag


def test_pages_link_the_next_one(client):
    page = client.get("/v1/transactions", params={"limit": 3, "helix_status": "posted"}, headers=AUTH)
    link = page.headers["Link"]
    match = re.fullmatch(r'<(/v1/transactions\?[^>]+)>; rel="next"', link)
    assert match, link
    following = client.get(match.group(1), headers=AUTH)
    assert following.status_code == 200
    assert following.json()["items"][0]["transaction_id"] != page.json()["items"][0]["transaction_id"]
    assert f"cursor={page.json()['next_cursor']}" in link
    last = client.get("/v1/stores", params={"limit": 1000}, headers=AUTH)
    assert last.json()["next_cursor"] is None and "Link" not in last.headers


def test_large_answers_are_gzipped_for_clients_that_ask(client):
    zipped = client.get("/v1/transactions", params={"limit": 200}, headers={**AUTH, "Accept-Encoding": "gzip"})
    assert zipped.headers["Content-Encoding"] == "gzip" and zipped.json()["items"]
    plain = client.get("/v1/transactions", params={"limit": 200}, headers={**AUTH, "Accept-Encoding": "identity"})
    assert "Content-Encoding" not in plain.headers and plain.json() == zipped.json()


@pytest.mark.parametrize(
    ("query", "parameter", "words"),
    [
        ("storeid=S1", "storeid", "not a parameter of this endpoint"),
        ("limit=5&limit=6", "limit", "more than once"),
        ("store_id=", "store_id", "at least 1 character"),
        ("start=&end=2026-11-28Z", "start", "at least 1 character"),
    ],
)
def test_parameters_the_endpoint_does_not_take_are_a_400(client, query, parameter, words):
    response = client.get(f"/v1/transactions?{query}", headers=AUTH)
    assert response.status_code == 400, response.text
    assert [e["parameter"] for e in response.json()["errors"]] == [parameter]
    assert words in response.json()["detail"]


def test_head_answers_as_get_without_the_body(client):
    get = client.get("/v1/stores", headers=AUTH)
    head = client.head("/v1/stores", headers=AUTH)
    assert head.status_code == 200 and head.content == b""
    assert (
        head.headers["ETag"] == get.headers["ETag"] and head.headers["content-length"] == get.headers["content-length"]
    )
    assert client.head("/v1/stores").status_code == 401
    assert client.head("/healthz").status_code == 200


@pytest.fixture(scope="module")
def browser_client(warehouse, tmp_path_factory):
    keeper = ReplicaKeeper(warehouse, tmp_path_factory.mktemp("cors_replica"))
    keeper.refresh()
    limits = ApiLimits(cors_origins=("https://dash.example.com",))
    yield TestClient(create_app(keeper, KeyRing(KEYS, None), run_replica=False, limits=limits))
    keeper.close()


def test_only_allowed_origins_may_read_answers_in_a_browser(browser_client, client):
    allowed = {"Origin": "https://dash.example.com"}
    preflight = browser_client.options(
        "/v1/stores",
        headers={**allowed, "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "x-api-key"},
    )
    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Origin"] == "https://dash.example.com"
    answer = browser_client.get("/v1/stores", headers={**AUTH, **allowed})
    assert answer.headers["Access-Control-Allow-Origin"] == "https://dash.example.com"
    assert "ETag" in answer.headers["Access-Control-Expose-Headers"]
    other = browser_client.get("/v1/stores", headers={**AUTH, "Origin": "https://evil.example.com"})
    assert "Access-Control-Allow-Origin" not in other.headers
    # no origins configured (the default): no CORS at all
    assert "Access-Control-Allow-Origin" not in client.get("/v1/stores", headers={**AUTH, **allowed}).headers


def test_the_docs_load_nothing_from_outside(client):
    page = client.get("/docs")
    assert page.status_code == 200
    urls = re.findall(r'(?:src|href)="([^"]+)"', page.text) + re.findall(r"url: '([^']+)'", page.text)
    assert urls and all(url.startswith("/") for url in urls), urls
    assert "http" not in page.text and '"validatorUrl": null' in page.text  # nor sends the description out
    for url in urls:
        assert client.get(url).status_code == 200, url
    assert "SwaggerUIBundle" in client.get("/docs/assets/swagger-ui-bundle.js").text
    assert client.get("/redoc").status_code == 404  # ReDoc would load from a CDN: not offered
