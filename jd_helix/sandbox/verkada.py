"""The Verkada side of the sandbox, served under /verkada: routing, API token, camera list
and footage link, per docs/verkada-helix-api.md ("Decisions"). Helix event types, events and
search live in `helix_events.py`, batch jobs in `helix_batch.py`.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from datetime import datetime
from email.message import Message
from typing import Any

from jd_helix.sandbox.clock import SandboxClock
from jd_helix.sandbox.config import SandboxConfig
from jd_helix.sandbox.faults import Faults
from jd_helix.sandbox.helix_batch import BatchJobs
from jd_helix.sandbox.helix_events import HelixEvents
from jd_helix.sandbox.reply import Reply, verkada_error
from jd_helix.sandbox.verkada_request import InvalidRequest, int_param, page_start
from jd_helix.sandbox.world import World

EVENT_PATH = "/cameras/v1/video_tagging/event"
EVENT_TYPE_PATH = "/cameras/v1/video_tagging/event_type"
BATCH_PATH = EVENT_PATH + "/batch"


class VerkadaApi:
    """The Verkada API's handlers and state.

    What it needs from the rest of the sandbox is passed in: the config, the world (org and
    cameras), the clock (event age, token lifetime), the faults (a token lifetime set while
    running) and where the sandbox is served (the failure files' URL, known once it listens).
    """

    def __init__(
        self, config: SandboxConfig, world: World, clock: SandboxClock, faults: Faults, base_url: Callable[[], str]
    ):
        self.config = config
        self.clock = clock
        self.faults = faults
        self.org_id = world.org_id
        self.cameras = world.verkada_cameras
        self.camera_ids = {camera["camera_id"] for camera in self.cameras}
        self.helix_events = HelixEvents(
            config, clock, self.org_id, self.camera_ids, lose_create=lambda: faults.lose_create("verkada")
        )
        self.batch_jobs = BatchJobs(self.helix_events, config, base_url)
        self.lock = self.helix_events.lock  # one lock for all Verkada state
        self.tokens: dict[str, tuple[float, float]] = {}  # token -> (sandbox clock s, monotonic s) at issue

    # ------------------------------------------------------------------ routing
    def handle(
        self, method: str, path: str, query: dict[str, str], headers: Message, body: bytes
    ) -> tuple[str, Callable[[], Reply]]:
        """(endpoint label, thunk producing the reply). The label is known before auth."""
        events = self.helix_events
        if path == "/token":
            return "token", (lambda: self.token(headers)) if method == "POST" else self._method_not_allowed
        if path == "/cameras/v1/devices":
            return "devices", self._authed(headers, method, "GET", lambda: self.devices(query))
        if path == "/cameras/v1/footage/link":
            return "footage/link", self._authed(headers, method, "GET", lambda: self.footage_link(query))
        if path == EVENT_TYPE_PATH:
            return "event_type", self._authed(headers, method, None, lambda: events.event_type(method, query, body))
        if path == EVENT_PATH:
            return "event", self._authed(headers, method, None, lambda: events.event(method, query, body))
        if path == EVENT_PATH + "/search":
            return "event/search", self._authed(headers, method, "POST", lambda: events.search(query, body))
        if path == BATCH_PATH:
            return "event/batch", self._authed(
                headers, method, "POST", lambda: self.batch_jobs.create(body), batch=True
            )
        if path.startswith(BATCH_PATH + "/"):
            job_id = path[len(BATCH_PATH + "/") :]
            return "event/batch/status", self._authed(
                headers, method, "GET", lambda: self.batch_jobs.status(job_id), batch=True
            )
        return "unknown", lambda: verkada_error(404, f"No such endpoint: {method} {path}")

    @staticmethod
    def _method_not_allowed() -> Reply:
        return verkada_error(405, "Method not allowed")

    def _authed(
        self, headers: Message, method: str, allowed_method: str | None, serve: Callable[[], Reply], batch: bool = False
    ) -> Callable[[], Reply]:
        def run() -> Reply:
            refusal = self.check_token(headers.get("x-verkada-auth"))
            if refusal is not None:
                return refusal
            if batch and self.config.batch_mode != "enabled":
                code = int(self.config.batch_mode)
                return verkada_error(code, "Insufficient permissions" if code == 403 else "Not found")
            if allowed_method is not None and method != allowed_method:
                return verkada_error(405, "Method not allowed")
            try:
                self.batch_jobs.advance()
                with self.lock:
                    return serve()
            except InvalidRequest as e:
                return verkada_error(400, str(e))

        return run

    # -------------------------------------------------------------------- token
    def token_ttl(self) -> float:
        """Token lifetime: set by a fault while running, else the config's."""
        ttl = self.faults.token_ttl_s
        return self.config.token_ttl_s if ttl is None else ttl

    def token(self, headers: Message) -> Reply:
        key = headers.get("x-api-key")
        if not key or not secrets.compare_digest(key.encode(), self.config.verkada_api_key.encode()):
            return verkada_error(401, "Invalid API key")
        token = "v2_" + secrets.token_hex(24)
        with self.lock:
            self.tokens[token] = (self.clock.now().timestamp(), time.monotonic())
        return Reply(200, {"token": token})

    def check_token(self, token: str | None) -> Reply | None:
        """The 401 answer for a missing, unknown or expired token; None for a good one."""
        if not token:
            return verkada_error(401, "Missing x-verkada-auth token")
        with self.lock:
            issued = self.tokens.get(token)
        if issued is None:
            return verkada_error(401, "Invalid token")
        issued_clock_s, issued_monotonic_s = issued
        ttl = self.token_ttl()
        if time.monotonic() - issued_monotonic_s >= ttl or self.clock.now().timestamp() - issued_clock_s >= ttl:
            return verkada_error(401, "Token expired", err_id="0e2d")
        return None

    # ------------------------------------------------------------------ cameras
    def devices(self, query: dict[str, str]) -> Reply:
        size = int_param(query, "page_size", 100, 1, 200)
        start = page_start(query.get("page_token"), len(self.cameras))
        page = self.cameras[start : start + size]
        next_token = str(start + size) if start + size < len(self.cameras) else None
        return Reply(200, {"cameras": page, "next_page_token": next_token})

    def footage_link(self, query: dict[str, str]) -> Reply:
        camera_id = query.get("camera_id")
        if not camera_id or camera_id not in self.camera_ids:
            raise InvalidRequest(f"Invalid camera_id {camera_id!r}")
        timestamp = query.get("timestamp")
        if timestamp:
            try:
                seconds = int(timestamp)
            except ValueError:
                try:
                    seconds = int(datetime.fromisoformat(timestamp).timestamp())
                except ValueError:
                    raise InvalidRequest("timestamp must be Unix seconds or ISO 8601") from None
            url = f"https://command.verkada.com/cameras/{camera_id}/history/{seconds * 1000}?org={self.org_id}"
        else:
            url = f"https://command.verkada.com/cameras/{camera_id}?org={self.org_id}"
        return Reply(200, {"url": url})

    # --------------------------------------------------------------- inspection
    # Pending batch jobs whose delay has passed are applied first, as on any API call.
    def snapshot_events(self) -> list[dict[str, Any]]:
        self.batch_jobs.advance()
        return self.helix_events.snapshot_events()

    def snapshot_event_types(self) -> list[dict[str, Any]]:
        return self.helix_events.snapshot_event_types()

    def snapshot_writes(self) -> list[dict[str, Any]]:
        self.batch_jobs.advance()
        return self.helix_events.snapshot_writes()

    def delete_events(self, keys: list[tuple[str, str, int]]) -> int:
        self.batch_jobs.advance()
        return self.helix_events.delete(keys)

    def failure_file(self, job_id: str) -> Reply:
        return self.batch_jobs.failure_file(job_id)
