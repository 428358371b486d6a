"""Verkada client logic that needs no server: settings, value coercion, outcome mapping."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import orjson
import pytest
import requests

from jd_helix.clients.verkada.attribute_values import event_body
from jd_helix.clients.verkada.client import BATCHES_AHEAD, VerkadaClient
from jd_helix.clients.verkada.errors import VerkadaConfigError
from jd_helix.clients.verkada.events import HelixEvent, PostOutcome
from jd_helix.clients.verkada.rate_limit import RateLimitSettings, VerkadaRateLimiter
from jd_helix.clients.verkada.settings import VerkadaClientSettings, check_base_url
from jd_helix.resources.verkada import VerkadaResource

NOW_MS = 1_800_000_000_000


# ---------------------------------------------------------------- settings


@pytest.mark.parametrize(
    "url",
    [
        "http://localhost:8765/verkada",
        "http://127.0.0.1:1",
        "http://127.9.9.9/x",
        "http://[::1]:80/",
        "https://api.verkada.com",
    ],
)
def test_accepted_base_urls(url: str) -> None:
    assert check_base_url(url) == url.rstrip("/")


@pytest.mark.parametrize("url", ["http://api.verkada.com", "http://10.0.0.5:8765", "ftp://x", "api.verkada.com"])
def test_refused_base_urls(url: str) -> None:
    with pytest.raises(VerkadaConfigError):
        check_base_url(url)


def test_resource_without_settings_names_them_and_never_guesses_a_url() -> None:
    with pytest.raises(VerkadaConfigError, match="VERKADA_API_BASE_URL and VERKADA_API_KEY are not set"):
        VerkadaResource().get_client()
    with pytest.raises(VerkadaConfigError, match="VERKADA_API_BASE_URL is not set"):
        VerkadaResource(api_key="k").get_client()


def test_resource_with_a_base_url_needs_a_key() -> None:
    with pytest.raises(VerkadaConfigError, match="VERKADA_API_KEY"):
        VerkadaResource(base_url="https://api.eu.verkada.com").get_client()


def test_resource_refuses_plain_http_to_a_remote_host() -> None:
    with pytest.raises(VerkadaConfigError, match="https"):
        VerkadaResource(base_url="http://api.verkada.com", api_key="k").get_client()


def test_repr_has_no_secret() -> None:
    with VerkadaClient("https://api.verkada.com", "super-secret-key") as client:
        assert "super-secret-key" not in repr(client)


# ---------------------------------------------------------------- values


def _event(key: str = "t1", time_ms: int = NOW_MS, **attributes: Any) -> HelixEvent:
    return HelixEvent("cam-1", "type-1", time_ms, attributes, key)


def test_event_body_numbers_as_json_numbers_and_strings_cut() -> None:
    body = event_body(
        _event(amount=Decimal("12.50"), count="3", name="x" * 250, flag="true", gone=None, plain=7),
        {"amount": "float", "count": "integer", "name": "string", "flag": "boolean"},
    )
    assert body["attributes"] == {"amount": 12.5, "count": 3, "name": "x" * 200, "flag": True, "plain": 7}
    assert body["time_ms"] == NOW_MS
    assert orjson.loads(orjson.dumps(body))["attributes"]["amount"] == 12.5


@pytest.mark.parametrize(
    "attrs, schema",
    [
        ({"amount": "abc"}, {"amount": "float"}),
        ({"amount": float("nan")}, {"amount": "float"}),
        ({"n": 1.5}, {"n": "integer"}),
        ({"b": "maybe"}, {"b": "boolean"}),
        ({"o": object()}, None),
    ],
)
def test_event_body_refuses_values_helix_would_refuse(attrs: dict, schema: Any) -> None:
    with pytest.raises(ValueError):
        event_body(_event(**attrs), schema)


def test_event_body_without_schema_keeps_python_types() -> None:
    body = event_body(_event(a="1", b=2, c=2.5, d=False), None)
    assert body["attributes"] == {"a": "1", "b": 2, "c": 2.5, "d": False}


# ---------------------------------------------------------------- outcome mapping (fake transport)


def _response(status: int, body: Any = None) -> requests.Response:
    r = requests.Response()
    r.status_code = status
    r._content = orjson.dumps(body) if body is not None else b""
    return r


class FakeApi:
    """Stands in for VerkadaTransport.send: routes (method, path) to a handler."""

    def __init__(self, handler: Callable[[str, str, Any], requests.Response]):
        self.handler = handler
        self.calls: list[tuple[str, str]] = []

    def __call__(self, method: str, path: str, *, params: Any = None, json_body: Any = None, auth: bool = True):
        self.calls.append((method, path))
        return self.handler(method, path, json_body)


def _client(handler, **kw) -> tuple[VerkadaClient, FakeApi]:
    kw.setdefault("poll_first_after_s", 0.0)
    client = VerkadaClient(
        "https://api.verkada.com",
        "k",
        VerkadaClientSettings(**kw),
        limiter=VerkadaRateLimiter(RateLimitSettings(None, None)),
        now_ms=lambda: NOW_MS,
        sleep=lambda s: None,
    )
    fake = FakeApi(handler)
    client.transport.send = fake
    return client, fake


def test_batches_map_failures_back_to_their_keys() -> None:
    jobs: dict[str, list] = {}
    polls: dict[str, int] = {}

    def handler(method, path, body):
        if method == "POST" and path.endswith("/event/batch"):
            job_id = f"job{len(jobs)}"
            jobs[job_id] = body["items"]
            return _response(202, {"job_id": job_id})
        if method == "GET" and "/event/batch/" in path:
            job_id = path.rsplit("/", 1)[1]
            polls[job_id] = polls.get(job_id, 0) + 1
            if polls[job_id] < 2:
                return _response(200, {"job_id": job_id, "status": "processing"})
            bad = [i for i, item in enumerate(jobs[job_id]) if item["attributes"].get("bad")]
            return _response(
                200,
                {
                    "job_id": job_id,
                    "status": "completed",
                    "total_items": len(jobs[job_id]),
                    "failed_items": len(bad),
                    "failure_file_url": f"/files/{job_id}" if bad else None,
                },
            )
        if "/files/" in path:
            job_id = path.rsplit("/", 1)[1]
            return _response(
                200,
                [
                    {"index": i, "error": f"Wrong type for field bad ({i})", "item": item}
                    for i, item in enumerate(jobs[job_id])
                    if item["attributes"].get("bad")
                ],
            )
        raise AssertionError((method, path))

    client, fake = _client(handler, batch_size=3)
    events = [_event(f"t{i}", bad=(i in (1, 5))) for i in range(8)]
    events.append(_event("old", time_ms=NOW_MS - 31 * 24 * 3600 * 1000))
    seen: list[list[PostOutcome]] = []
    outcomes = client.post_events(events, on_batch_done=seen.append)

    assert [o.key for o in outcomes] == [e.key for e in events]
    status = {o.key: (o.status, o.reason) for o in outcomes}
    assert status["t1"] == ("skipped", "Wrong type for field bad (1)")
    assert status["t5"] == ("skipped", "Wrong type for field bad (2)")
    old_status, old_reason = status["old"]
    assert old_status == "skipped" and old_reason is not None and "30 days" in old_reason
    assert {k for k, (s, _) in status.items() if s == "posted"} == {"t0", "t2", "t3", "t4", "t6", "t7"}
    # every outcome reported exactly once, batch by batch
    assert sorted(o.key for batch in seen for o in batch) == sorted(e.key for e in events)
    # several jobs submitted before the first poll
    first_poll = next(i for i, (m, p) in enumerate(fake.calls) if m == "GET")
    assert [m for m, _ in fake.calls[:first_poll]] == ["POST", "POST", "POST"]


def test_failed_job_marks_its_items_failed() -> None:
    def handler(method, path, body):
        if method == "POST":
            return _response(202, {"job_id": "j"})
        return _response(200, {"job_id": "j", "status": "failed", "total_items": 2, "failed_items": 2})

    client, _ = _client(handler)
    outcomes = client.post_events([_event("a"), _event("b")])
    assert [o.status for o in outcomes] == ["failed", "failed"]


@pytest.mark.parametrize("batch_status", [404, 403])
def test_batch_refused_falls_back_to_single_posts_for_good(batch_status: int) -> None:
    def handler(method, path, body):
        if path.endswith("/event/batch"):
            return _response(batch_status, {"id": "x", "message": "Not Found", "data": None})
        if path.endswith("/event"):
            if body["attributes"].get("bad"):
                return _response(400, {"id": "y", "message": "Wrong type for field bad", "data": None})
            if body["attributes"].get("flaky"):
                return _response(503, {"id": "z", "message": "unavailable", "data": None})
            return _response(200, {})
        raise AssertionError(path)

    client, fake = _client(handler, batch_size=2)
    outcomes = client.post_events([_event("a"), _event("b", bad=True), _event("c", flaky=True), _event("d")])
    assert [(o.key, o.status) for o in outcomes] == [
        ("a", "posted"),
        ("b", "skipped"),
        ("c", "failed"),
        ("d", "posted"),
    ]
    assert outcomes[1].reason == "Wrong type for field bad"
    assert client.batch_supported is False
    fake.calls.clear()
    client.post_events([_event("e")])
    assert fake.calls == [("POST", "/cameras/v1/video_tagging/event")]


def test_an_error_recording_outcomes_stops_post_events_and_is_raised() -> None:
    def handler(method, path, body):
        if method == "POST":
            return _response(202, {"job_id": path})
        return _response(200, {"job_id": "j", "status": "completed", "total_items": 1, "failed_items": 0})

    def on_batch_done(outcomes: list[PostOutcome]) -> None:
        raise OSError("database is locked")

    client, _ = _client(handler, batch_size=1, max_jobs_in_flight=1)
    with pytest.raises(OSError, match="database is locked"):
        client.post_events([_event(f"t{i}") for i in range(20)], on_batch_done=on_batch_done)


class CountingStream:
    """Events made on demand; counts how many have been taken."""

    def __init__(self, n: int):
        self.n = n
        self.taken = 0

    def __iter__(self):
        for i in range(self.n):
            self.taken += 1
            yield _event(f"t{i}")


def test_a_stream_of_events_is_read_as_its_batches_are_submitted() -> None:
    stream = CountingStream(10)
    taken_at_submit: list[int] = []

    def handler(method, path, body):
        if method == "POST":
            taken_at_submit.append(stream.taken)
            return _response(202, {"job_id": str(len(taken_at_submit))})
        return _response(200, {"job_id": path, "status": "completed", "total_items": 2, "failed_items": 0})

    client, _ = _client(handler, batch_size=2, max_jobs_in_flight=1)
    seen: list[PostOutcome] = []
    assert client.post_event_stream(stream, on_batch_done=seen.extend) is None  # outcomes go to the callback only
    # Read ahead of the submits, but never more than BATCHES_AHEAD batches (+ the one being made) beyond them.
    assert all(2 * k <= taken <= 2 * (k + BATCHES_AHEAD + 1) for k, taken in enumerate(taken_at_submit, start=1))
    assert len(taken_at_submit) == 5
    assert sorted(o.key for o in seen) == sorted(f"t{i}" for i in range(10))
    assert {o.status for o in seen} == {"posted"}


def test_a_stream_falls_back_to_single_posts_without_reading_it_all_first() -> None:
    stream = CountingStream(8)
    taken_at_post: list[int] = []

    def handler(method, path, body):
        if path.endswith("/event/batch"):
            return _response(404, {"id": "x", "message": "Not Found", "data": None})
        taken_at_post.append(stream.taken)
        return _response(200, {})

    client, _ = _client(handler, batch_size=2, single_post_chunk=2)
    seen: list[PostOutcome] = []
    client.post_event_stream(stream, on_batch_done=seen.extend)
    assert len(taken_at_post) == 8
    # The refused batch and the ones made ahead of it go first; the rest is read a chunk at a time.
    assert all(taken - posted <= 2 * (BATCHES_AHEAD + 2) for posted, taken in enumerate(taken_at_post, start=1))
    assert sorted(o.key for o in seen) == sorted(f"t{i}" for i in range(8))
