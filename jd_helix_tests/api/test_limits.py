"""Heavy load has bounds: a request budget per key (429), a limit of requests in flight
(503 at once, not a queue), and uvicorn's limits on request heads."""

from __future__ import annotations

import asyncio

import pytest
from fastapi.testclient import TestClient

from jd_helix.api.load_shedding import LoadSheddingMiddleware
from jd_helix.api.rate_limit import KeyRateLimiter
from jd_helix_tests.api.conftest import AUTH


class FakeClock:
    def __init__(self):
        self.ms = 1_000_000

    def __call__(self) -> int:
        return self.ms


@pytest.fixture
def limited(api_app):
    """The session's app, with a budget of 3 requests a minute on a clock the test moves."""
    clock = FakeClock()
    limiter = api_app.state.rate_limiter
    api_app.state.rate_limiter = KeyRateLimiter(3, clock=clock)
    yield TestClient(api_app), clock
    api_app.state.rate_limiter = limiter


def test_a_key_past_its_budget_gets_a_429_with_when_to_come_back(limited):
    client, clock = limited
    remaining = []
    for _ in range(3):
        response = client.get("/v1/stores", headers=AUTH)
        assert response.status_code == 200
        assert response.headers["RateLimit-Policy"] == '"per-key";q=3;w=60'
        remaining.append(response.headers["RateLimit"])
    assert remaining == ['"per-key";r=2;t=60', '"per-key";r=1;t=60', '"per-key";r=0;t=60']
    clock.ms += 20_000
    refused = client.get("/v1/stores", headers=AUTH)
    assert refused.status_code == 429
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["type"] == "urn:jd-helix:problem:rate-limited" and "'dashboards'" in refused.json()["detail"]
    assert refused.headers["Retry-After"] == "40" and refused.headers["RateLimit"] == '"per-key";r=0;t=40'
    clock.ms += 40_001
    assert client.get("/v1/stores", headers=AUTH).status_code == 200  # the window moved on


def test_requests_past_the_limit_in_flight_are_turned_away_at_once():
    async def scenario():
        release = asyncio.Event()

        async def slow_app(scope, receive, send):
            await release.wait()
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"ok"})

        shedding = LoadSheddingMiddleware(slow_app, max_in_flight=2, retry_after_s=1)

        async def call(path="/v1/stores"):
            sent = []

            async def send(message):
                sent.append(message)

            await shedding({"type": "http", "path": path, "method": "GET", "headers": []}, None, send)
            return sent

        held = [asyncio.create_task(call()) for _ in range(2)]
        await asyncio.sleep(0)
        assert shedding.in_flight == 2
        shed = await asyncio.wait_for(call(), timeout=5)  # answered while the two are still held
        health = asyncio.create_task(call("/healthz"))  # never turned away
        await asyncio.sleep(0)
        release.set()
        answered = await asyncio.gather(*held, health)
        return shed, answered, shedding

    shed, answered, shedding = asyncio.run(scenario())
    start = shed[0]
    assert start["status"] == 503
    headers = dict(start["headers"])
    assert headers[b"retry-after"] == b"1" and headers[b"content-type"] == b"application/problem+json"
    assert b"urn:jd-helix:problem:overloaded" in shed[1]["body"]
    assert [a[0]["status"] for a in answered] == [200, 200, 200]
    assert shedding.in_flight == 0 and shedding.shed == 1
