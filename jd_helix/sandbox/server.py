"""The sandbox: one loopback HTTP server for both APIs, JD under /jd, Verkada under /verkada,
inspection and admin under /_sandbox (never rate limited, never faulted, no auth).

`Sandbox` builds the world and the sales, wires each API with what it needs, applies the
faults and the rate limit in front of them, and counts every answer (`stats()`).
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import orjson

from jd_helix.sandbox.clock import SandboxClock
from jd_helix.sandbox.config import SandboxConfig
from jd_helix.sandbox.defaults import SANDBOX_HOST
from jd_helix.sandbox.faults import Faults
from jd_helix.sandbox.http_server import LoopbackServer, RequestHandler
from jd_helix.sandbox.jd_api import JdApi
from jd_helix.sandbox.jd_query import BadRequest, parse_instant
from jd_helix.sandbox.ratelimit import RateLimiter
from jd_helix.sandbox.reply import Reply, jd_error, verkada_error
from jd_helix.sandbox.sales import SalesGenerator
from jd_helix.sandbox.truth import DimensionTruth, SalesTruth
from jd_helix.sandbox.verkada import VerkadaApi
from jd_helix.sandbox.world import World

HTML_PAGE = (
    b"<!DOCTYPE html><html><head><title>Bad Gateway</title></head>"
    b"<body><h1>502 Bad Gateway</h1><p>upstream maintenance page</p></body></html>"
)
DROPPED = 0  # the status under which dropped connections are counted in stats()


class Sandbox:
    """The built-in JD + Verkada sandbox. Use `Sandbox.running(config)` or start()/stop()."""

    def __init__(self, config: SandboxConfig | None = None, host: str = SANDBOX_HOST, port: int = 0):
        self.config = (config or SandboxConfig()).effective()
        self.host = host
        self._port = port
        self.clock = SandboxClock(self.config.now)
        self.world = World.build(self.config)
        self.sales = SalesGenerator(self.config, self.world)
        self.faults = Faults(self.config.seed)
        self.faults.apply_config(self.config.faults)
        self.rate_limiter = RateLimiter(
            self.config.rate_limit_per_5s, self.config.rate_limit_per_minute, self.config.rate_limit_cooldown_s
        )
        self.jd = JdApi(self.world, self.sales, self.config.jd_api_key)
        # The Verkada side (Helix is most of it); tests read its issued `tokens`.
        self.helix = VerkadaApi(self.config, self.world, self.clock, self.faults, lambda: self.base_url)
        self._stats: Counter = Counter()
        self._stats_lock = threading.Lock()
        self._server: LoopbackServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------ lifecycle
    @classmethod
    @contextlib.contextmanager
    def running(cls, config: SandboxConfig | None = None, port: int = 0, host: str = SANDBOX_HOST) -> Iterator[Sandbox]:
        sandbox = cls(config, host=host, port=port)
        sandbox.start()
        try:
            yield sandbox
        finally:
            sandbox.stop()

    def start(self) -> Sandbox:
        self._server = LoopbackServer((self.host, self._port), self._dispatch)
        self._port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.02},
            name=f"jd-helix-sandbox:{self._port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server = self._server
        if server is None:
            return
        server.shutdown()
        server.server_close()
        for connection in list(server.connections):
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None

    def serve_forever(self) -> None:
        """Start (if needed) and block until KeyboardInterrupt."""
        if self._server is None:
            self.start()
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # ----------------------------------------------------------- properties
    @property
    def port(self) -> int:
        return self._port

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self._port}"

    @property
    def jd_base_url(self) -> str:
        return f"{self.base_url}/jd"

    @property
    def verkada_base_url(self) -> str:
        return f"{self.base_url}/verkada"

    @property
    def jd_api_key(self) -> str:
        return self.config.jd_api_key

    @property
    def verkada_api_key(self) -> str:
        return self.config.verkada_api_key

    def now(self) -> datetime:
        return self.clock.now()

    def set_now(self, dt: datetime | None) -> None:
        """Fix the sandbox clock (aware datetime), or None to follow the real clock."""
        self.clock.set(dt)

    # ----------------------------------------------------------- inspection
    def truth(self, start: datetime, end: datetime) -> SalesTruth:
        """Ground truth of the JD sales with start <= instant < end (what the API serves)."""
        if start.tzinfo is None or end.tzinfo is None:
            raise ValueError("truth() needs aware datetimes")
        return self.sales.truth(start, end)

    def dimension_truth(self, endpoint: str) -> DimensionTruth:
        return self.world.dimension_truth(endpoint)

    def camera_mapping(self) -> dict[str, str | None]:
        """JD camera id -> Verkada camera id (None: unmapped), by the project's rule."""
        return dict(self.sales.mapping())

    def verkada_cameras(self) -> list[dict[str, Any]]:
        return [dict(camera) for camera in self.world.verkada_cameras]

    def event_types(self) -> list[dict[str, Any]]:
        return self.helix.snapshot_event_types()

    def helix_events(self) -> list[dict[str, Any]]:
        return self.helix.snapshot_events()

    def helix_writes(self) -> list[dict[str, Any]]:
        return self.helix.snapshot_writes()

    def delete_helix_events(self, events: list[dict[str, Any]]) -> int:
        """Delete events (each a dict with camera_id, event_type_uid, time_ms) as a person in
        Command would, behind the pipeline's back; returns how many Helix held."""
        return self.helix.delete_events([(e["camera_id"], e["event_type_uid"], int(e["time_ms"])) for e in events])

    def stats(self) -> dict[tuple[str, str, int], int]:
        with self._stats_lock:
            return dict(self._stats)

    def reset_stats(self) -> None:
        with self._stats_lock:
            self._stats.clear()

    def _count(self, api: str, label: str, status: int) -> None:
        with self._stats_lock:
            self._stats[(api, label, status)] += 1

    # -------------------------------------------------------------- dispatch
    def _dispatch(self, handler: RequestHandler) -> None:
        path, query, body = handler.read_request()
        if path.startswith("/jd/") or path == "/jd":
            self._serve_api(handler, "jd", path[len("/jd") :], query, body)
        elif path.startswith("/verkada/") or path == "/verkada":
            self._serve_api(handler, "verkada", path[len("/verkada") :], query, body)
        elif path.startswith("/_sandbox/"):
            try:
                reply = self._admin(handler.command, path[len("/_sandbox/") :], query, body)
            except (ValueError, TypeError, KeyError, BadRequest) as e:
                reply = Reply(400, {"error": str(e)})
            handler.send(reply)
        else:
            handler.send(Reply(404, {"error": f"no such path {path}; the APIs live under /jd, /verkada and /_sandbox"}))

    def _serve_api(self, handler: RequestHandler, api: str, path: str, query: dict[str, str], body: bytes) -> None:
        """Faults first, then (Verkada) the rate limit, then the API itself; every answer is counted."""
        method = handler.command
        if api == "jd":
            label, serve = self.jd.handle(method, path, query, handler.headers)
            error = jd_error
        else:
            label, serve = self.helix.handle(method, path, query, handler.headers, body)
            error = verkada_error
        latency_s, action, retry_after = self.faults.before(api)
        if latency_s:
            time.sleep(latency_s)
        if action == "drop":
            self._drop(handler, api, label)
            return
        if action == "429":
            reply = _too_many_requests(error, "Too many requests", "1" if retry_after else None)
        elif action is not None:
            reply = error(int(action.split(":")[1]), "Simulated upstream failure")
        elif api == "verkada" and (refusal := self._rate_limit_refusal()) is not None:
            reply = refusal
        else:
            reply = serve()
            if reply.status == 200:
                html_status = self.faults.non_json_for(api, label, reply.sales_hour)
                if html_status is not None:
                    reply = Reply(html_status, HTML_PAGE, content_type="text/html; charset=utf-8")
            if reply.wrote and api == "verkada" and self.faults.drop_after(api):
                self._drop(handler, api, label)
                return
        self._count(api, label, reply.status)
        handler.send(reply)

    def _rate_limit_refusal(self) -> Reply | None:
        allowed, retry_after = self.rate_limiter.check()
        if allowed:
            return None
        return _too_many_requests(
            verkada_error,
            "Rate limit exceeded: 300 requests per minute per organization; wait a few seconds",
            "5" if retry_after else None,
        )

    def _drop(self, handler: RequestHandler, api: str, label: str) -> None:
        self._count(api, label, DROPPED)
        handler.drop()

    # ---------------------------------------------------------------- admin
    def _admin(self, method: str, path: str, query: dict[str, str], body: bytes) -> Reply:
        if path == "health":
            return Reply(200, {"ok": True, "jd_base_url": self.jd_base_url, "verkada_base_url": self.verkada_base_url})
        if path == "config":
            return Reply(200, self.config.to_dict())
        if path == "events":
            return Reply(200, {"events": self.helix_events()})
        if path == "events/delete" and method == "POST":
            events = orjson.loads(body or b"{}").get("events")
            if not isinstance(events, list):
                raise ValueError('body must be {"events": [{"camera_id", "event_type_uid", "time_ms"}, ...]}')
            return Reply(200, {"deleted": self.delete_helix_events(events)})
        if path == "writes":
            return Reply(200, {"writes": [{**write, "at": write["at"].isoformat()} for write in self.helix_writes()]})
        if path == "stats":
            return Reply(
                200,
                {
                    "stats": [
                        {"api": api, "endpoint": label, "status": status, "count": count}
                        for (api, label, status), count in sorted(self.stats().items())
                    ]
                },
            )
        if path == "faults":
            if method == "POST":
                settings = orjson.loads(body or b"{}")
                if not isinstance(settings, dict):
                    raise ValueError("body must be a JSON object of fault settings")
                self.faults.update(**settings)
            return Reply(200, self.faults.snapshot())
        if path == "faults/reset" and method == "POST":
            self.faults.reset()
            return Reply(200, self.faults.snapshot())
        if path == "now":
            if method == "POST":
                fixed = orjson.loads(body or b"{}").get("now")
                self.set_now(datetime.fromisoformat(fixed) if fixed else None)
            return Reply(200, {"now": self.now().isoformat(), "fixed": self.clock.is_fixed})
        if path == "truth":
            return self._truth_reply(query)
        if path.startswith("dimension_truth/"):
            truth = self.dimension_truth(path.split("/", 1)[1])
            return Reply(
                200,
                {
                    "valid": {record_id: dict(record) for record_id, record in truth.valid.items()},
                    "rejected": [rejection.__dict__ for rejection in truth.rejected],
                },
            )
        if path.startswith("batch/") and path.endswith("/failures.json"):
            return self.helix.failure_file(path[len("batch/") : -len("/failures.json")])
        return Reply(404, {"error": f"no such sandbox endpoint {path!r}"})

    def _truth_reply(self, query: dict[str, str]) -> Reply:
        zone = self.sales.zone
        start = datetime.fromtimestamp(parse_instant(query["start"], zone) / 1e6, UTC)
        end = datetime.fromtimestamp(parse_instant(query["end"], zone) / 1e6, UTC)
        truth = self.truth(start, end)
        return Reply(
            200,
            {
                "valid": [{**sale.__dict__, "instant": sale.instant.isoformat()} for sale in truth.valid.values()],
                "rejected": [rejection.__dict__ for rejection in truth.rejected],
            },
        )


def _too_many_requests(error: Callable[[int, str], Reply], message: str, retry_after: str | None) -> Reply:
    reply = error(429, message)
    if retry_after is not None:
        reply.headers["Retry-After"] = retry_after
    return reply
