"""The Verkada client against the real sandbox, over HTTP on loopback."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Set
from datetime import timedelta
from typing import Any

import pytest

from jd_helix.clients.verkada.client import VerkadaClient
from jd_helix.clients.verkada.endpoints import EVENT_TYPE_PATH
from jd_helix.clients.verkada.errors import VerkadaAuthError
from jd_helix.clients.verkada.events import HelixEvent
from jd_helix.clients.verkada.rate_limit import RateLimitSettings, VerkadaRateLimiter
from jd_helix.clients.verkada.settings import VerkadaClientSettings

sandbox = pytest.importorskip("jd_helix.sandbox")
Sandbox = sandbox.Sandbox
SandboxConfig = sandbox.SandboxConfig

SCHEMA = {"transaction_id": "string", "transaction_amount": "float", "item_name": "string"}
UNLIMITED = RateLimitSettings(requests_per_5s=None, requests_per_minute=None)


def _stats(sb: Any, endpoint: str | None = None, status: int | None = None) -> int:
    return sum(
        n
        for (api, label, code), n in sb.stats().items()
        if api == "verkada" and (endpoint is None or label == endpoint) and (status is None or int(code) == status)
    )


def _client(
    sb: Any, *, limiter: VerkadaRateLimiter | None = None, monotonic: Callable[[], float] = time.monotonic, **kw: Any
) -> VerkadaClient:
    kw.setdefault("max_retries", 4)
    return VerkadaClient(
        sb.verkada_base_url,
        sb.verkada_api_key,
        VerkadaClientSettings(**kw),
        limiter=limiter if limiter is not None else VerkadaRateLimiter(UNLIMITED),
        monotonic=monotonic,
    )


@pytest.fixture(scope="module")
def sb() -> Iterator[Any]:
    """A sandbox without the org rate limit, for the functional tests."""
    cfg = SandboxConfig(
        clean=True, seed=11, stores=80, rate_limit_per_5s=None, rate_limit_per_minute=None, batch_delay_s=0.05
    )
    with Sandbox.running(cfg, port=0) as running:
        yield running


@pytest.fixture(autouse=True)
def _no_faults(request: Any) -> Iterator[None]:
    yield
    if "sb" in request.fixturenames:
        request.getfixturevalue("sb").faults.reset()


def _cameras(sb: Any) -> list[str]:
    with _client(sb) as client:
        return [c["camera_id"] for c in client.list_cameras()]


# ------------------------------------------------------------------ auth


def test_token_is_cached(sb) -> None:
    before = _stats(sb, "token")
    with _client(sb) as client:
        for _ in range(5):
            client.transport.call("GET", EVENT_TYPE_PATH)
        assert client.token_renewals == 1
    assert _stats(sb, "token") - before == 1


class StepClock:
    """A monotonic clock (seconds) that moves only when the test moves it."""

    def __init__(self) -> None:
        self.seconds = 1000.0

    def __call__(self) -> float:
        return self.seconds


def test_expired_token_is_renewed_once_and_the_request_retried(sb) -> None:
    """Time passes by the sandbox's clock (token lifetimes) and the client's (when to renew),
    both moved by the test: no real waiting."""
    client_clock = StepClock()
    started = sb.now()

    def let_pass(seconds: float) -> None:
        client_clock.seconds += seconds
        sb.set_now(sb.now() + timedelta(seconds=seconds))

    try:
        sb.set_now(started)
        with _client(sb, monotonic=client_clock) as client:
            client.transport.call("GET", EVENT_TYPE_PATH)
            sb.faults.update(token_ttl_s=60)
            let_pass(61)
            expired_before = _stats(sb, status=401)
            client.transport.call("GET", EVENT_TYPE_PATH)  # 401 -> renew -> retry, invisible to the caller
            assert _stats(sb, status=401) - expired_before == 1
            assert client.token_renewals == 2
            # the client learnt the short life: the next token is renewed before it expires
            let_pass(61)
            client.transport.call("GET", EVENT_TYPE_PATH)
            assert _stats(sb, status=401) - expired_before == 1
            assert client.token_renewals == 3
    finally:
        sb.set_now(None)  # the module's sandbox follows the real clock again


def test_bad_key_fails_at_once_without_showing_the_key(sb) -> None:
    secret = "wrong-key-0123456789"
    before = _stats(sb, "token")
    with (
        VerkadaClient(sb.verkada_base_url, secret, limiter=VerkadaRateLimiter(UNLIMITED)) as client,
        pytest.raises(VerkadaAuthError) as info,
    ):
        client.list_cameras()
    assert "VERKADA_API_KEY" in str(info.value)
    assert secret not in str(info.value) and secret not in repr(info.value)
    assert _stats(sb, "token") - before == 1  # no retries of a refused key


# ------------------------------------------------------------------ cameras, types, links


def test_cameras_are_read_page_by_page(sb) -> None:
    before = _stats(sb, "devices")
    ids = _cameras(sb)
    pages = _stats(sb, "devices") - before
    assert len(ids) == len(set(ids)) > 200
    assert pages == -(-len(ids) // 200)


def test_ensure_event_type_created_found_updated(sb) -> None:
    with _client(sb) as client:
        created = client.ensure_event_type("Sale A", SCHEMA)
        assert created.action == "created" and created.uid
        found = client.ensure_event_type("Sale A", SCHEMA)
        assert (found.action, found.uid) == ("found", created.uid)
        wider = dict(SCHEMA, pos_id="string")
        updated = client.ensure_event_type("Sale A", wider)
        assert (updated.action, updated.uid, updated.schema) == ("updated", created.uid, wider)
        assert client.ensure_event_type("Sale A", wider).action == "found"


def test_footage_link(sb) -> None:
    camera = _cameras(sb)[0]
    with _client(sb) as client:
        url = client.footage_link(camera, 1_700_000_000)
    assert camera in url and url.startswith("https://")


# ------------------------------------------------------------------ events


def _events(sb: Any, uid: str, n: int, bad: Set[int] = frozenset(), prefix: str = "t") -> list[HelixEvent]:
    cameras = _cameras(sb)
    now = int(time.time() * 1000) - 60_000
    out = []
    for i in range(n):
        amount: Any = "not a number" if i in bad else 10.5 + i
        out.append(
            HelixEvent(
                cameras[i % len(cameras)],
                uid,
                now + i,
                {
                    "transaction_id": f"{prefix}{i}",
                    "transaction_amount": amount,
                    "item_name": "Trainers " * 40,
                },
                f"{prefix}{i}",
            )
        )
    return out


def test_batches_with_partial_failures_map_to_the_right_keys(sb) -> None:
    with _client(sb, batch_size=7, poll_first_after_s=0.1) as client:
        uid = client.ensure_event_type("Sale B", SCHEMA).uid
        events = _events(sb, uid, 30, bad={3, 11, 29}, prefix="b")
        # an unknown camera is Helix's to refuse
        events.append(HelixEvent("no-such-camera", uid, events[0].time_ms, {"transaction_id": "x"}, "b-cam"))
        reported: list = []
        # schema={} : send the values as given, so Helix itself refuses the bad amounts
        outcomes = client.post_events(events, on_batch_done=reported.append, schema={})
    by_key = {o.key: o for o in outcomes}
    assert [o.key for o in outcomes] == [e.key for e in events]
    skipped = {k for k, o in by_key.items() if o.status == "skipped"}
    assert skipped == {"b3", "b11", "b29", "b-cam"}
    b3_reason, cam_reason = by_key["b3"].reason, by_key["b-cam"].reason
    assert b3_reason is not None and "Wrong type for field transaction_amount" in b3_reason
    assert cam_reason is not None and "camera" in cam_reason
    assert all(o.status == "posted" for k, o in by_key.items() if k not in skipped)
    assert sorted(o.key for batch in reported for o in batch) == sorted(by_key)
    stored = {(e["camera_id"], e["time_ms"]): e for e in sb.helix_events() if e["event_type_uid"] == uid}
    assert len(stored) == 27
    sample = stored[(events[0].camera_id, events[0].time_ms)]
    assert sample["attributes"]["transaction_amount"] == 10.5  # a JSON number
    assert len(sample["attributes"]["item_name"]) == 200


def test_numbers_given_as_strings_are_converted_with_the_schema(sb) -> None:
    with _client(sb, poll_first_after_s=0.1) as client:
        uid = client.ensure_event_type("Sale C", SCHEMA).uid
        [event] = _events(sb, uid, 1, prefix="c")
        event = HelixEvent(
            event.camera_id, uid, event.time_ms, dict(event.attributes, transaction_amount="12.50"), "c0"
        )
        [outcome] = client.post_events([event])
    assert outcome.status == "posted"


@pytest.mark.parametrize("mode", ["404", "403"])
def test_batch_refused_falls_back_to_single_posts(mode: str) -> None:
    cfg = SandboxConfig(clean=True, seed=12, batch_mode=mode, rate_limit_per_5s=None, rate_limit_per_minute=None)
    with Sandbox.running(cfg, port=0) as sb2:
        with _client(sb2) as client:
            uid = client.ensure_event_type("Sale D", SCHEMA).uid
            events = _events(sb2, uid, 5, bad={2}, prefix="d")
            outcomes = client.post_events(events, schema={})
            assert [o.status for o in outcomes] == ["posted", "posted", "skipped", "posted", "posted"]
            reason = outcomes[2].reason
            assert reason is not None and "Wrong type" in reason
            assert client.batch_supported is False
            more = client.post_events(_events(sb2, uid, 2, prefix="e"))
            assert [o.status for o in more] == ["posted", "posted"]
        assert _stats(sb2, "event/batch") == 1  # asked once, then never again
        assert _stats(sb2, "event", 200) == 6


def test_5xx_and_dropped_connections_are_retried(sb) -> None:
    sb.faults.update(api="verkada", error_rate=0.2, drop_rate=0.05)
    with _client(sb, poll_first_after_s=0.1, max_retries=7) as client:
        uid = client.ensure_event_type("Sale E", SCHEMA).uid
        outcomes = client.post_events(_events(sb, uid, 20, prefix="f"))
        for _ in range(10):
            client.list_cameras()
    sb.faults.reset()
    assert all(o.status == "posted" for o in outcomes), outcomes
    assert sum(_stats(sb, status=s) for s in (500, 502, 503, 504)) > 0


# ------------------------------------------------------------------ the org rate limit


def test_limiter_keeps_zero_429_under_the_real_limit() -> None:
    """45 requests from 3 threads and 2 clients through one shared limiter: no 429."""
    cfg = SandboxConfig(clean=True, seed=13)  # the sandbox's real limits: 25/5 s, 300/min
    with Sandbox.running(cfg, port=0) as sb2:
        limiter = VerkadaRateLimiter(RateLimitSettings(cfg.rate_limit_per_5s, cfg.rate_limit_per_minute))
        clients = [_client(sb2, limiter=limiter) for _ in range(2)]

        def work(client: VerkadaClient) -> None:
            for _ in range(15):
                client.transport.call("GET", EVENT_TYPE_PATH)

        threads = [threading.Thread(target=work, args=(clients[i % 2],)) for i in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        sent = sum(c.requests_made for c in clients)
        assert sent == 45 + 2  # + one token each
        assert _stats(sb2) == sent
        assert _stats(sb2, status=429) == 0
        assert sum(c.rate_limited for c in clients) == 0
        for c in clients:
            c.close()


def test_429_burst_is_waited_out() -> None:
    cfg = SandboxConfig(clean=True, seed=14)
    with (
        Sandbox.running(cfg, port=0) as sb2,
        _client(sb2, limiter=VerkadaRateLimiter(RateLimitSettings())) as client,
    ):
        client.transport.call("GET", EVENT_TYPE_PATH)
        sb2.faults.update(api="verkada", burst_429=2)
        client.transport.call("GET", EVENT_TYPE_PATH)
        assert client.rate_limited == 2
        assert client.requests_made == 1 + 1 + 3  # token, first call, 429, 429, success
        assert _stats(sb2, status=429) == 2
