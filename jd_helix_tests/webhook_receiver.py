"""A Slack-compatible incoming webhook on loopback that keeps what it is sent."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class WebhookReceiver:
    def __init__(self, server: ThreadingHTTPServer):
        self.server = server
        self.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/T000/B000/test-secret-path"
        self.messages: list[dict] = []

    def texts(self) -> list[str]:
        return [message["text"] for message in self.messages]

    def wait_for(self, predicate, timeout_s: float) -> list[str]:
        """Wait until a received text satisfies `predicate`; return all texts so far."""
        deadline = time.monotonic() + timeout_s
        while not any(predicate(text) for text in self.texts()):
            if time.monotonic() > deadline:
                raise AssertionError(f"no such message after {timeout_s:.0f} s; received: {self.texts()}")
            time.sleep(0.5)
        return self.texts()


@contextlib.contextmanager
def webhook_receiver() -> Iterator[WebhookReceiver]:
    receiver: WebhookReceiver

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            receiver.messages.append(json.loads(body))
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):  # quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver = WebhookReceiver(server)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
