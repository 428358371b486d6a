"""The shared session factory: retries through urllib3, hooks on every attempt, timeouts."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from jd_helix.clients.http_session import PoliteRetry, make_retry, make_session


class _Scripted(BaseHTTPRequestHandler):
    """Answers with the next (status, headers) from the server's script, then 200."""

    def _answer(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        if length:
            self.rfile.read(length)
        server = self.server
        with server.lock:  # type: ignore[attr-defined]
            server.seen.append(self.command)  # type: ignore[attr-defined]
            step = server.script.pop(0) if server.script else (200, {})  # type: ignore[attr-defined]
        status, headers = step
        body = b'{"id":"x","message":"scripted","data":null}'
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PATCH = _answer

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[ThreadingHTTPServer]:
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Scripted)
    srv.lock = threading.Lock()  # type: ignore[attr-defined]
    srv.seen = []  # type: ignore[attr-defined]
    srv.script = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def _url(srv: ThreadingHTTPServer) -> str:
    return f"http://127.0.0.1:{srv.server_address[1]}/x"


def _recording_session(sleeps: list[float], **kw):
    attempts: list[str] = []
    statuses: list[int] = []
    session = make_session(
        retry=make_retry(kw.pop("max_retries", 4), sleep=sleeps.append, **kw),
        timeout=(2, 5),
        before_attempt=lambda method, url: attempts.append(method),
        after_attempt=lambda status, headers: statuses.append(status),
    )
    return session, attempts, statuses


def test_retry_configuration() -> None:
    retry = make_retry(5)
    assert isinstance(retry, PoliteRetry)
    assert retry.total == 5 and retry.connect == 5 and retry.read == 5 and retry.status == 5
    assert retry.allowed_methods is None
    assert set(retry.status_forcelist) == {429, 500, 502, 503, 504}
    assert retry.respect_retry_after_header and not retry.raise_on_status
    assert retry.backoff_jitter > 0 and retry.backoff_max <= 60
    # our settings survive urllib3's copy-on-increment
    copy = retry.new(total=4)
    assert isinstance(copy, PoliteRetry) and copy.default_429_wait_s == retry.default_429_wait_s


def test_every_attempt_passes_the_hooks_and_5xx_is_retried(server) -> None:
    server.script[:] = [(503, {}), (500, {}), (200, {})]
    sleeps: list[float] = []
    session, attempts, statuses = _recording_session(sleeps)
    response = session.post(_url(server), json={"a": 1})
    assert response.status_code == 200
    assert attempts == ["POST", "POST", "POST"]  # POST retried too: allowed_methods=None
    assert statuses == [503, 500, 200]
    assert server.seen == ["POST"] * 3


def test_429_without_retry_after_waits_the_default_with_jitter(server) -> None:
    server.script[:] = [(429, {}), (200, {})]
    sleeps: list[float] = []
    session, _attempts, statuses = _recording_session(sleeps, default_429_wait_s=5.0)
    assert session.get(_url(server)).status_code == 200
    assert len(sleeps) == 1 and 5.0 <= sleeps[0] <= 5.5
    assert statuses == [429, 200]


def test_429_with_retry_after_waits_what_the_server_says(server) -> None:
    server.script[:] = [(429, {"Retry-After": "2"}), (200, {})]
    sleeps: list[float] = []
    session, _, _ = _recording_session(sleeps)
    assert session.get(_url(server)).status_code == 200
    assert len(sleeps) == 1 and 2.0 <= sleeps[0] <= 2.5


def test_retries_are_bounded_and_the_last_response_is_returned(server) -> None:
    server.script[:] = [(503, {})] * 10
    sleeps: list[float] = []
    session, attempts, _ = _recording_session(sleeps, max_retries=2)
    response = session.get(_url(server))
    assert response.status_code == 503
    assert response.json()["message"] == "scripted"
    assert len(attempts) == 3


def test_connection_errors_are_retried_then_raised() -> None:
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    sleeps: list[float] = []
    session, _attempts, _ = _recording_session(sleeps, max_retries=2, backoff_factor=0.0)
    with pytest.raises(requests.ConnectionError):
        session.get(f"http://127.0.0.1:{port}/")
    assert len(sleeps) <= 3


def test_default_timeout_is_applied(server) -> None:
    session = make_session(timeout=(1.5, 2.5))
    adapter = session.get_adapter(_url(server))
    assert adapter.default_timeout == (1.5, 2.5)  # type: ignore[attr-defined]
    assert session.get(_url(server)).status_code == 200


def test_every_retry_is_logged_as_a_warning_with_attempt_wait_and_status(server, caplog):
    server.script[:] = [(503, {}), (429, {"Retry-After": "2"})]
    sleeps: list[float] = []
    session, attempts, _ = _recording_session(sleeps, backoff_jitter_s=0.0)
    with caplog.at_level("WARNING"):
        response = session.get(_url(server) + "?token=never-logged")
    assert response.status_code == 200 and len(attempts) == 3
    lines = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(lines) == 2 and len(sleeps) == 1  # urllib3's first backoff is 0: no sleep
    assert lines[0] == "GET /x: HTTP 503 on attempt 1; retrying at once (3 retries left)"
    assert lines[1].startswith("GET /x: HTTP 429 on attempt 2; retrying in 2.")
    assert lines[1].endswith("(2 retries left)") and "never-logged" not in "".join(lines)
