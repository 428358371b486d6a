"""One loopback HTTP server for both sandbox APIs: JD under /jd, Verkada under /verkada,
inspection and admin under /_sandbox (never rate limited, never faulted, no auth)."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections import Counter
from datetime import datetime, timezone
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Iterator
from urllib.parse import parse_qsl, urlsplit

import orjson

from jd_helix.sandbox.clock import SandboxClock
from jd_helix.sandbox.config import SandboxConfig
from jd_helix.sandbox.defaults import SANDBOX_HOST
from jd_helix.sandbox.faults import Faults
from jd_helix.sandbox.jd_api import JdApi
from jd_helix.sandbox.jd_query import BadRequest, parse_instant
from jd_helix.sandbox.ratelimit import RateLimiter
from jd_helix.sandbox.reply import Reply, jd_error, verkada_error
from jd_helix.sandbox.sales import SalesGenerator
from jd_helix.sandbox.truth import DimensionTruth, SalesTruth
from jd_helix.sandbox.verkada import VerkadaApi
from jd_helix.sandbox.world import World

_REASONS = {200: "OK", 202: "Accepted", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden",
            404: "Not Found", 405: "Method Not Allowed", 429: "Too Many Requests", 500: "Internal Server Error",
            502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}
HTML_PAGE = (b"<!DOCTYPE html><html><head><title>Bad Gateway</title></head>"
             b"<body><h1>502 Bad Gateway</h1><p>upstream maintenance page</p></body></html>")
DROPPED = 0  # the status under which dropped connections are counted in stats()


def _default(o: Any) -> Any:
    if isinstance(o, Decimal):
        return str(o)
    raise TypeError


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    timeout = 60  # idle keep-alive connections are closed after this many seconds
    server: "_Server"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet
        pass

    def setup(self) -> None:
        super().setup()
        self.server.connections.add(self.connection)

    def finish(self) -> None:
        self.server.connections.discard(self.connection)
        with contextlib.suppress(OSError):
            super().finish()

    def do_GET(self) -> None:
        self.server.dispatch(self)

    do_POST = do_PATCH = do_DELETE = do_PUT = do_GET

    # ------------------------------------------------------------- writing
    def send(self, reply: Reply) -> None:
        body = reply.body
        if not isinstance(body, (bytes, bytearray)):
            body = orjson.dumps(body, default=_default)
        head = [f"HTTP/1.1 {reply.status} {_REASONS.get(reply.status, 'Status')}",
                f"Content-Type: {reply.content_type}", f"Content-Length: {len(body)}"]
        head += [f"{k}: {v}" for k, v in reply.headers.items()]
        if self.close_connection:
            head.append("Connection: close")
        self.wfile.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)

    def drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], dispatch: Callable[[_Handler], None]):
        self.dispatch = dispatch
        self.connections: set[socket.socket] = set()
        super().__init__(address, _Handler)


class Sandbox:
    """The built-in JD + Verkada sandbox. Use `Sandbox.running(cfg)` or start()/stop()."""

    def __init__(self, config: SandboxConfig | None = None, host: str = SANDBOX_HOST, port: int = 0):
        self.config = (config or SandboxConfig()).effective()
        self.requested_config = config or SandboxConfig()
        self.host = host
        self._port = port
        self.clock = SandboxClock(self.config.now)
        self.world = World.build(self.config)
        self.sales = SalesGenerator(self.config, self.world)
        self.faults = Faults(self.config.seed)
        self.faults.apply_config(self.config.faults)
        self.rate_limiter = RateLimiter(self.config.rate_limit_per_5s, self.config.rate_limit_per_minute,
                                        self.config.rate_limit_cooldown_s)
        self.jd = JdApi(self.world, self.sales, self.config.jd_api_key)
        # The Verkada side (Helix is most of it); tests read its issued `tokens`.
        self.helix = VerkadaApi(self.config, self.world, self.clock, self.faults, lambda: self.base_url)
        self._stats: Counter = Counter()
        self._stats_lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------ lifecycle
    @classmethod
    @contextlib.contextmanager
    def running(cls, config: SandboxConfig | None = None, port: int = 0, host: str = SANDBOX_HOST
                ) -> Iterator["Sandbox"]:
        sb = cls(config, host=host, port=port)
        sb.start()
        try:
            yield sb
        finally:
            sb.stop()

    def start(self) -> "Sandbox":
        self._server = _Server((self.host, self._port), self._dispatch)
        self._port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02},
                                        name=f"jd-helix-sandbox:{self._port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        srv = self._server
        if srv is None:
            return
        srv.shutdown()
        srv.server_close()
        for conn in list(srv.connections):
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
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

    def __enter__(self) -> "Sandbox":
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
        return [dict(c) for c in self.world.verkada_cameras]

    def event_types(self) -> list[dict[str, Any]]:
        return self.helix.snapshot_event_types()

    def helix_events(self) -> list[dict[str, Any]]:
        return self.helix.snapshot_events()

    def helix_writes(self) -> list[dict[str, Any]]:
        return self.helix.snapshot_writes()

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
    def _dispatch(self, h: _Handler) -> None:
        parts = urlsplit(h.path)
        path = parts.path
        q = dict(parse_qsl(parts.query, keep_blank_values=True))
        n = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(n) if n > 0 else b""
        if path.startswith("/jd/") or path == "/jd":
            self._serve_api(h, "jd", h.command, path[3:], q, body)
        elif path.startswith("/verkada/") or path == "/verkada":
            self._serve_api(h, "verkada", h.command, path[8:], q, body)
        elif path.startswith("/_sandbox/"):
            try:
                reply = self._admin(h.command, path[len("/_sandbox/"):], q, body)
            except (ValueError, TypeError, KeyError, BadRequest) as e:
                reply = Reply(400, {"error": str(e)})
            h.send(reply)
        else:
            h.send(Reply(404, {"error": f"no such path {path}; the APIs live under /jd, /verkada and /_sandbox"}))

    def _serve_api(self, h: _Handler, api: str, method: str, path: str, q: dict, body: bytes) -> None:
        info: dict[str, Any] = {}
        if api == "jd":
            label, thunk, info = self.jd.handle(method, path, q, h.headers)
        else:
            label, thunk = self.helix.handle(method, path, q, h.headers, body)
        err = jd_error if api == "jd" else verkada_error
        latency, action, retry_after = self.faults.before(api)
        if latency:
            time.sleep(latency)
        if action == "drop":
            self._count(api, label, DROPPED)
            h.drop()
            return
        if action == "429":
            r = err(429, "Too many requests")
            if retry_after:
                r.headers["Retry-After"] = "1"
            self._count(api, label, 429)
            h.send(r)
            return
        if action is not None:
            code = int(action.split(":")[1])
            self._count(api, label, code)
            h.send(err(code, "Simulated upstream failure"))
            return
        if api == "verkada":
            ok, ra = self.rate_limiter.check()
            if not ok:
                r = verkada_error(429, "Rate limit exceeded: 300 requests per minute per organization; wait a few seconds")
                if ra:
                    r.headers["Retry-After"] = "5"
                self._count(api, label, 429)
                h.send(r)
                return
        reply = thunk()
        if reply.status == 200:
            status = self.faults.non_json_for(api, label, info.get("sales_hour") if label == "sales" else None)
            if status is not None:
                reply = Reply(status, HTML_PAGE, content_type="text/html; charset=utf-8")
        if reply.wrote and api == "verkada" and self.faults.drop_after(api):
            self._count(api, label, DROPPED)
            h.drop()
            return
        self._count(api, label, reply.status)
        h.send(reply)

    # ---------------------------------------------------------------- admin
    def _admin(self, method: str, path: str, q: dict, body: bytes) -> Reply:
        if path == "health":
            return Reply(200, {"ok": True, "jd_base_url": self.jd_base_url, "verkada_base_url": self.verkada_base_url})
        if path == "config":
            return Reply(200, self.config.to_dict())
        if path == "events":
            return Reply(200, {"events": self.helix_events()})
        if path == "writes":
            return Reply(200, {"writes": [{**w, "at": w["at"].isoformat()} for w in self.helix_writes()]})
        if path == "stats":
            return Reply(200, {"stats": [{"api": a, "endpoint": e, "status": s, "count": c}
                                         for (a, e, s), c in sorted(self.stats().items())]})
        if path == "faults":
            if method == "POST":
                b = orjson.loads(body or b"{}")
                if not isinstance(b, dict):
                    raise ValueError("body must be a JSON object of fault settings")
                self.faults.update(**b)
            return Reply(200, self.faults.snapshot())
        if path == "faults/reset" and method == "POST":
            self.faults.reset()
            return Reply(200, self.faults.snapshot())
        if path == "now":
            if method == "POST":
                b = orjson.loads(body or b"{}")
                v = b.get("now")
                self.set_now(datetime.fromisoformat(v) if v else None)
            return Reply(200, {"now": self.now().isoformat(), "fixed": self.clock.is_fixed})
        if path == "truth":
            tz = self.sales.tz
            start = datetime.fromtimestamp(parse_instant(q["start"], tz) / 1e6, timezone.utc)
            end = datetime.fromtimestamp(parse_instant(q["end"], tz) / 1e6, timezone.utc)
            t = self.truth(start, end)
            return Reply(200, {"valid": [{**s.__dict__, "instant": s.instant.isoformat()} for s in t.valid.values()],
                               "rejected": [r.__dict__ for r in t.rejected]})
        if path.startswith("dimension_truth/"):
            t = self.dimension_truth(path.split("/", 1)[1])
            return Reply(200, {"valid": {k: {f: v for f, v in r.items()} for k, r in t.valid.items()},
                               "rejected": [r.__dict__ for r in t.rejected]})
        if path.startswith("batch/") and path.endswith("/failures.json"):
            return self.helix.failure_file(path[len("batch/"):-len("/failures.json")])
        return Reply(404, {"error": f"no such sandbox endpoint {path!r}"})
