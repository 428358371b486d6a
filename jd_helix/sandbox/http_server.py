"""The sandbox's HTTP plumbing: a threading loopback server whose handler reads a request
and hands it to one dispatch callable, then writes the `Reply` it gets (or drops the
connection, for the drop faults)."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Callable
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import orjson

from jd_helix.sandbox.reply import Reply

REASONS = {
    200: "OK",
    202: "Accepted",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


def _decimal_as_text(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError


class RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    timeout = 60  # idle keep-alive connections are closed after this many seconds
    server: LoopbackServer

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

    # ------------------------------------------------------------- reading
    def read_request(self) -> tuple[str, dict[str, str], bytes]:
        """(path, query parameters, body) of the request."""
        parts = urlsplit(self.path)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        return parts.path, query, body

    # ------------------------------------------------------------- writing
    def send(self, reply: Reply) -> None:
        body = reply.body
        if not isinstance(body, (bytes, bytearray)):
            body = orjson.dumps(body, default=_decimal_as_text)
        head = [
            f"HTTP/1.1 {reply.status} {REASONS.get(reply.status, 'Status')}",
            f"Content-Type: {reply.content_type}",
            f"Content-Length: {len(body)}",
        ]
        head += [f"{name}: {value}" for name, value in reply.headers.items()]
        if self.close_connection:
            head.append("Connection: close")
        self.wfile.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)

    def drop(self) -> None:
        """Close the connection without an answer."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)


class LoopbackServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], dispatch: Callable[[RequestHandler], None]):
        self.dispatch = dispatch
        self.connections: set[socket.socket] = set()  # open ones, shut at stop
        super().__init__(address, RequestHandler)
