"""Verkada API client (cameras, Helix event types and events) and its Dagster resource.

Follows ``specs/verkada-helix-api.md`` (section 8 decides what the spec leaves open).

Usage::

    verkada = VerkadaResource(base_url=EnvVar("VERKADA_API_BASE_URL"), api_key=EnvVar("VERKADA_API_KEY"))
    with verkada.get_client() as client:       # a VerkadaClient; closing it closes its session
        cameras = client.list_cameras()
        event_type = client.ensure_event_type("JD Sports Sale", {"transaction_id": "string", ...})
        outcomes = client.post_events(events, on_batch_done=write_ledger_rows)
        metadata = {"requests": client.requests_made, "rate_limited": client.rate_limited}

Every HTTP attempt (retries included) passes the process-wide rate limiter of its base
URL (``verkada_rate_limit.shared_limiter``) and is counted in ``requests_made``; HTTP
retries are urllib3's (``http_session.make_session``). Errors carry the server's
``message``, never the API key or the token.
"""

from __future__ import annotations

import logging
import math
import random
import threading
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Callable, Literal, Mapping, Optional, Sequence
from urllib.parse import urljoin, urlsplit

import dagster as dg
import orjson
import requests
from pydantic import Field

from jd_helix.resources.base_url import checked_base_url
from jd_helix.resources.http_session import make_retry, make_session
from jd_helix.resources.verkada_rate_limit import RateLimitSettings, VerkadaRateLimiter, shared_limiter

log = logging.getLogger(__name__)

API_KEY_ENV = "VERKADA_API_KEY"
TOKEN_PATH = "/token"
CAMERAS_PATH = "/cameras/v1/devices"
EVENT_TYPE_PATH = "/cameras/v1/video_tagging/event_type"
EVENT_PATH = "/cameras/v1/video_tagging/event"
BATCH_PATH = "/cameras/v1/video_tagging/event/batch"
FOOTAGE_LINK_PATH = "/cameras/v1/footage/link"

MAX_BATCH_ITEMS = 1000  # Helix's cap per batch job
CAMERA_PAGE_SIZE = 200  # the documented maximum
MAX_VALUE_CHARS = 200  # Helix cuts attribute strings here; we cut them ourselves
SCHEMA_TYPES = frozenset({"string", "integer", "float", "boolean"})
TOKEN_LIFETIME_S = 30 * 60

Status = Literal["posted", "failed", "skipped"]


# --------------------------------------------------------------------------- errors


class VerkadaError(Exception):
    """A Verkada call failed. ``str()`` carries the server's message, never a secret."""

    def __init__(self, message: str, *, status: Optional[int] = None, error_id: Optional[str] = None):
        super().__init__(message)
        self.status = status
        self.error_id = error_id


class VerkadaAuthError(VerkadaError):
    """The API key was refused (or a fresh token was refused): fix VERKADA_API_KEY."""


class VerkadaConfigError(VerkadaError, ValueError):
    """The resource's settings cannot work (missing key, plain HTTP to a remote host...)."""


# --------------------------------------------------------------------------- data


@dataclass(frozen=True)
class HelixEvent:
    """One event to post. ``key`` is the caller's id for it (the transaction_id)."""

    camera_id: str
    event_type_uid: str
    time_ms: int
    attributes: Mapping[str, Any]
    key: str


@dataclass(frozen=True)
class PostOutcome:
    """What became of one event.

    ``status``: ``posted``; ``failed`` (transient: worth retrying later, same triple);
    ``skipped`` (permanent: Helix, or the client's own check of the same rule, rejected
    it; ``reason`` says why, in Helix's words where Helix said it).
    """

    key: str
    status: Status
    reason: Optional[str] = None


@dataclass(frozen=True)
class EnsuredEventType:
    uid: str
    name: str
    schema: dict[str, str]
    action: Literal["found", "created", "updated"]


# --------------------------------------------------------------------------- helpers


def check_base_url(base_url: str) -> str:
    """``base_url`` without a trailing slash; plain http only for loopback (see base_url.py)."""
    try:
        return checked_base_url(base_url, "VERKADA_API_BASE_URL")
    except ValueError as error:
        raise VerkadaConfigError(str(error)) from None


def _coerce_value(value: Any, declared: Optional[str]) -> Any:
    """One attribute value as Helix wants it, or raise ValueError with the reason.

    Numbers go out as JSON numbers, never strings (Helix answers "Wrong type for field"
    otherwise); strings are cut to 200 characters. With a declared schema type the value
    is converted to it (e.g. "12.50" for a float attribute becomes 12.5).
    """
    if isinstance(value, Decimal):
        value = float(value) if value != value.to_integral_value() or declared == "float" else int(value)
    if declared == "string" or (declared is None and isinstance(value, str)):
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"not a finite number: {value!r}")
        text = value if isinstance(value, str) else str(value)
        return text[:MAX_VALUE_CHARS]
    if declared == "boolean" or (declared is None and isinstance(value, bool)):
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        raise ValueError(f"not a boolean: {value!r}")
    if declared in ("integer", "float") or (declared is None and isinstance(value, (int, float))):
        if isinstance(value, bool):
            raise ValueError(f"not a number: {value!r}")
        number: float | int
        if isinstance(value, str):
            try:
                number = int(value) if declared == "integer" else float(value)
            except ValueError:
                raise ValueError(f"not a number: {value[:50]!r}") from None
        elif isinstance(value, (int, float)):
            number = value
        else:
            raise ValueError(f"not a number: {type(value).__name__}")
        if isinstance(number, float) and not math.isfinite(number):
            raise ValueError(f"not a finite number: {value!r}")
        if declared == "integer":
            if isinstance(number, float):
                if not number.is_integer():
                    raise ValueError(f"not an integer: {value!r}")
                number = int(number)
        elif declared == "float":
            number = float(number)
        return number
    raise ValueError(f"unsupported attribute type {type(value).__name__}")


def event_body(event: HelixEvent, schema: Optional[Mapping[str, str]] = None) -> dict[str, Any]:
    """The JSON body Helix wants for ``event``; raises ValueError if it cannot be valid.

    ``None`` attribute values are left out (Helix accepts a subset of the schema).
    """
    if isinstance(event.time_ms, bool) or not isinstance(event.time_ms, int):
        raise ValueError(f"time_ms must be an integer of epoch milliseconds, got {event.time_ms!r}")
    if not event.camera_id or not event.event_type_uid:
        raise ValueError("camera_id and event_type_uid are required")
    attributes: dict[str, Any] = {}
    for name, value in (event.attributes or {}).items():
        if value is None:
            continue
        declared = schema.get(name) if schema else None
        try:
            attributes[name] = _coerce_value(value, declared)
        except ValueError as exc:
            raise ValueError(f"attribute {name!r}: {exc}") from None
    return {
        "camera_id": event.camera_id,
        "event_type_uid": event.event_type_uid,
        "time_ms": event.time_ms,
        "attributes": attributes,
    }


def _error_message(response: requests.Response) -> tuple[str, Optional[str]]:
    """The server's ``message`` (and ``id``) from a ``{"id","message","data"}`` body."""
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        body = None
    if isinstance(body, dict) and body.get("message"):
        return str(body["message"]), (str(body["id"]) if body.get("id") is not None else None)
    reason = response.reason or "error"
    return f"HTTP {response.status_code} {reason}", None


def _json(response: requests.Response, what: str) -> Any:
    try:
        return orjson.loads(response.content)
    except orjson.JSONDecodeError:
        raise VerkadaError(f"{what}: the server sent a body that is not JSON", status=response.status_code) from None


@dataclass
class _Job:
    """A submitted batch: its events (with their positions in the caller's list)."""

    job_id: str
    entries: list[tuple[int, HelixEvent]]
    submitted_at: float
    next_poll_at: float
    poll_interval: float
    polls: int = 0


# --------------------------------------------------------------------------- client


class VerkadaClient:
    """A Verkada API client for one org. Thread-safe for the read calls and the token;
    call ``post_events`` from one thread at a time. Use as a context manager or call
    :meth:`close`."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: tuple[float, float] = (10.0, 30.0),
        max_retries: int = 5,
        rate_limit: RateLimitSettings = RateLimitSettings(),
        limiter: Optional[VerkadaRateLimiter] = None,
        batch_size: int = MAX_BATCH_ITEMS,
        token_lifetime_s: float = TOKEN_LIFETIME_S,
        token_renew_margin_s: float = 180.0,
        default_429_wait_s: float = 5.0,
        max_jobs_in_flight: int = 4,
        poll_first_after_s: float = 1.0,
        poll_max_interval_s: float = 15.0,
        job_timeout_s: float = 600.0,
        single_post_chunk: int = 50,
        max_event_age_s: Optional[float] = 30 * 24 * 3600,
        max_future_s: Optional[float] = 300,
        now_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not api_key:
            raise VerkadaConfigError(f"No Verkada API key: set {API_KEY_ENV}")
        if not 1 <= batch_size <= MAX_BATCH_ITEMS:
            raise VerkadaConfigError(f"batch_size must be 1..{MAX_BATCH_ITEMS}, got {batch_size}")
        self.base_url = check_base_url(base_url)
        self._api_key = api_key
        self.batch_size = batch_size
        self.limiter = limiter if limiter is not None else shared_limiter(self.base_url, rate_limit)
        self._default_429_wait_s = default_429_wait_s
        self._token_lifetime_s = token_lifetime_s
        self._token_renew_margin_s = min(token_renew_margin_s, token_lifetime_s / 2)
        self._max_jobs_in_flight = max(1, max_jobs_in_flight)
        self._poll_first_after_s = poll_first_after_s
        self._poll_max_interval_s = poll_max_interval_s
        self._job_timeout_s = job_timeout_s
        self._single_post_chunk = max(1, single_post_chunk)
        self._max_event_age_ms = None if max_event_age_s is None else int(max_event_age_s * 1000)
        self._max_future_ms = None if max_future_s is None else int(max_future_s * 1000)
        self._now_ms = now_ms
        self._monotonic = monotonic
        self._sleep = sleep

        self._counter_lock = threading.Lock()
        self._requests_made = 0
        self._rate_limited = 0
        self._token_lock = threading.Lock()
        self._token: Optional[str] = None
        self._token_fetched_at = 0.0
        self._token_renew_at = 0.0
        self._token_renewals = 0
        self.batch_supported = True  # False once the batch endpoint answered 404/403
        self._schemas: dict[str, dict[str, str]] = {}

        self._session = make_session(
            timeout=timeout,
            retry=make_retry(max_retries, default_429_wait_s=default_429_wait_s),
            before_attempt=self._before_attempt,
            after_attempt=self._after_attempt,
            headers={"accept": "application/json", "user-agent": "jd_helix"},
        )

    # -- counters and hooks ---------------------------------------------------

    @property
    def requests_made(self) -> int:
        """HTTP requests actually sent by this client, retries included."""
        return self._requests_made

    @property
    def rate_limited(self) -> int:
        """429 responses this client received (each one was waited out and retried)."""
        return self._rate_limited

    @property
    def token_renewals(self) -> int:
        """How many tokens this client has fetched."""
        return self._token_renewals

    def _before_attempt(self, method: str, url: str) -> None:
        self.limiter.acquire()
        with self._counter_lock:
            self._requests_made += 1

    def _after_attempt(self, status: int, headers: Mapping[str, str]) -> None:
        if status != 429:
            return
        with self._counter_lock:
            self._rate_limited += 1
        wait = self._default_429_wait_s
        retry_after = headers.get("Retry-After")
        if retry_after and retry_after.strip().isdigit():
            wait = float(retry_after.strip())
        log.info("Verkada answered 429; every caller of this org pauses %.1f s", wait)
        self.limiter.pause(wait)

    # -- lifecycle --------------------------------------------------------------

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> "VerkadaClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:  # never show the key or token
        return f"VerkadaClient(base_url={self.base_url!r})"

    # -- auth -------------------------------------------------------------------

    def _redact(self, text: str) -> str:
        for secret in (self._api_key, self._token):
            if secret:
                text = text.replace(secret, "***")
        return text

    def _fetch_token(self) -> None:
        try:
            response = self._session.post(self.base_url + TOKEN_PATH, headers={"x-api-key": self._api_key})
        except requests.RequestException as exc:
            raise VerkadaError(f"Verkada token request failed: {self._redact(type(exc).__name__)}") from None
        if response.status_code in (401, 403):
            message, error_id = _error_message(response)
            raise VerkadaAuthError(
                f"Verkada refused the API key ({response.status_code}: {self._redact(message)}); "
                f"check {API_KEY_ENV} (and the region of VERKADA_API_BASE_URL)",
                status=response.status_code,
                error_id=error_id,
            )
        if response.status_code != 200:
            message, error_id = _error_message(response)
            raise VerkadaError(
                f"Verkada token request failed ({response.status_code}): {self._redact(message)}",
                status=response.status_code,
                error_id=error_id,
            )
        token = _json(response, "Verkada token").get("token")
        if not token or not isinstance(token, str):
            raise VerkadaError("Verkada token response carried no token", status=response.status_code)
        self._token = token
        self._token_fetched_at = self._monotonic()
        self._token_renew_at = self._token_fetched_at + self._token_lifetime_s - self._token_renew_margin_s
        self._token_renewals += 1
        log.debug("Fetched a Verkada API token")

    def _current_token(self, stale: Optional[str] = None) -> str:
        """A valid token; fetch one if none is cached, it is near expiry, or it is ``stale``.

        A token refused (``stale``) before its expected end tells us the server's real
        token life: later tokens are renewed at 90 % of that age, so a server with short
        tokens costs one 401, not one per token.
        """
        with self._token_lock:
            if stale is not None and self._token == stale:
                age = self._monotonic() - self._token_fetched_at
                if 1.0 <= age < self._token_lifetime_s - self._token_renew_margin_s:
                    self._token_lifetime_s = age
                    self._token_renew_margin_s = age * 0.1
                    log.info("Verkada token expired after %.0f s; renewing earlier from now on", age)
            if self._token is None or self._token == stale or self._monotonic() >= self._token_renew_at:
                self._fetch_token()
            assert self._token is not None
            return self._token

    # -- one request ---------------------------------------------------------------

    def _url(self, path_or_url: str) -> str:
        if path_or_url.startswith(("http://", "https://")):
            return path_or_url
        if path_or_url.startswith("/"):
            return self.base_url + path_or_url
        return urljoin(self.base_url + "/", path_or_url)

    def _send(self, method: str, path: str, *, params: Any = None, json_body: Any = None, auth: bool = True) -> requests.Response:
        """Send with the token; on a 401 renew the token once and retry once.

        Network failures left after urllib3's retries raise VerkadaError.
        """
        url = self._url(path)
        data = orjson.dumps(json_body) if json_body is not None else None
        headers = {"content-type": "application/json"} if data is not None else {}
        token = None
        for attempt in (1, 2):
            if auth:
                token = self._current_token(stale=token)
                headers["x-verkada-auth"] = token
            try:
                response = self._session.request(method, url, params=params, data=data, headers=headers)
            except requests.RequestException as exc:
                raise VerkadaError(
                    f"Verkada {method} {urlsplit(url).path} failed after retries: {type(exc).__name__}"
                ) from None
            if response.status_code == 401 and auth and attempt == 1:
                log.info("Verkada answered 401 to %s %s; renewing the token once", method, urlsplit(url).path)
                continue
            if response.status_code == 401 and auth:
                message, error_id = _error_message(response)
                raise VerkadaAuthError(
                    f"Verkada refused a fresh token for {method} {urlsplit(url).path} ({self._redact(message)}); "
                    f"check {API_KEY_ENV}",
                    status=401,
                    error_id=error_id,
                )
            return response
        raise AssertionError("unreachable")

    def _call(self, method: str, path: str, *, ok: Sequence[int] = (200,), **kwargs: Any) -> Any:
        """Send and return the JSON body, or raise VerkadaError with the server's message."""
        response = self._send(method, path, **kwargs)
        if response.status_code not in ok:
            raise self._error(response, f"{method} {path}")
        if not response.content:
            return {}
        return _json(response, f"{method} {path}")

    def _error(self, response: requests.Response, what: str) -> VerkadaError:
        message, error_id = _error_message(response)
        cls = VerkadaAuthError if response.status_code == 401 else VerkadaError
        return cls(
            f"Verkada {what} failed ({response.status_code}): {self._redact(message)}",
            status=response.status_code,
            error_id=error_id,
        )

    # -- cameras -------------------------------------------------------------------

    def list_cameras(self) -> list[dict[str, Any]]:
        """Every camera of the org: all pages of ``GET /cameras/v1/devices``."""
        cameras: list[dict[str, Any]] = []
        token: Optional[str] = None
        seen: set[str] = set()
        while True:
            params: dict[str, Any] = {"page_size": CAMERA_PAGE_SIZE}
            if token:
                params["page_token"] = token
            body = self._call("GET", CAMERAS_PATH, params=params)
            cameras.extend(body.get("cameras") or [])
            token = body.get("next_page_token")
            if not token:
                return cameras
            token = str(token)
            if token in seen:
                raise VerkadaError("Verkada camera paging repeated a page token; stopping")
            seen.add(token)

    def footage_link(self, camera_id: str, timestamp_s: int) -> str:
        """Command link to ``camera_id``'s footage at ``timestamp_s`` (Unix seconds)."""
        body = self._call("GET", FOOTAGE_LINK_PATH, params={"camera_id": camera_id, "timestamp": int(timestamp_s)})
        url = body.get("url")
        if not url:
            raise VerkadaError("Verkada footage link response carried no url")
        return str(url)

    # -- event types -----------------------------------------------------------------

    def _find_event_type(self, name: str) -> Optional[dict[str, Any]]:
        body = self._call("GET", EVENT_TYPE_PATH, params={"name": name})
        for event_type in body.get("event_types") or []:
            if event_type.get("name") == name:
                return event_type
        return None

    def ensure_event_type(self, name: str, schema: Mapping[str, str]) -> EnsuredEventType:
        """The event type called ``name`` with exactly ``schema``: found as is, created,
        or its schema replaced by PATCH (Helix replaces the whole schema)."""
        schema = dict(schema)
        bad = {k: v for k, v in schema.items() if v not in SCHEMA_TYPES}
        if bad:
            raise ValueError(f"unsupported Helix attribute types {bad}; allowed: {sorted(SCHEMA_TYPES)}")
        action: Literal["found", "created", "updated"]
        existing = self._find_event_type(name)
        if existing is None:
            response = self._send("POST", EVENT_TYPE_PATH, json_body={"name": name, "event_schema": schema})
            if response.status_code == 200:
                created = _json(response, "create event type")
                uid = created.get("event_type_uid")
                if not uid:
                    existing = self._find_event_type(name)
                    if existing is None:
                        raise VerkadaError("Verkada created the event type but returned no uid")
                    uid = existing["event_type_uid"]
                self._schemas[str(uid)] = schema
                return EnsuredEventType(str(uid), name, schema, "created")
            # Another process may have created it since we looked (names are unique).
            existing = self._find_event_type(name)
            if existing is None:
                raise self._error(response, "create event type")
        uid = str(existing["event_type_uid"])
        current = dict(existing.get("event_schema") or {})
        if current == schema:
            action = "found"
        else:
            self._call("PATCH", EVENT_TYPE_PATH, params={"event_type_uid": uid}, json_body={"event_schema": schema})
            action = "updated"
        self._schemas[uid] = schema
        return EnsuredEventType(uid, name, schema, action)

    # -- events ----------------------------------------------------------------------

    def post_events(
        self,
        events: Sequence[HelixEvent],
        *,
        on_batch_done: Optional[Callable[[list[PostOutcome]], None]] = None,
        schema: Optional[Mapping[str, str]] = None,
    ) -> list[PostOutcome]:
        """Post ``events``; return one outcome per event, in the same order.

        Attribute values are normalised here (numbers as JSON numbers, strings cut to 200
        characters, converted to the type's schema when known: ``schema`` or the one
        ``ensure_event_type`` saw for the uid). Events Helix would refuse for sure (bad
        value, ``time_ms`` older than 30 days or more than 5 min ahead) are skipped
        without a request. The rest go in batch jobs of ``batch_size`` (several jobs in
        flight, polled with backoff), or one POST each where the batch endpoint answers
        404/403. ``on_batch_done(outcomes)`` is called as each group of outcomes becomes
        final, so the caller can persist them as it goes; every event is reported there
        exactly once.

        Raises VerkadaAuthError if the key is refused mid-way (outcomes already passed
        to ``on_batch_done`` stand; the rest were not reported).
        """
        outcomes: list[Optional[PostOutcome]] = [None] * len(events)

        def report(done: list[tuple[int, PostOutcome]]) -> None:
            if not done:
                return
            for index, outcome in done:
                outcomes[index] = outcome
            if on_batch_done is not None:
                on_batch_done([outcome for _, outcome in done])

        ready: list[tuple[int, HelixEvent, dict[str, Any]]] = []
        rejected: list[tuple[int, PostOutcome]] = []
        now = self._now_ms()
        for index, event in enumerate(events):
            reason = self._local_rejection(event, now)
            body: Optional[dict[str, Any]] = None
            if reason is None:
                try:
                    body = event_body(event, schema if schema is not None else self._schemas.get(event.event_type_uid))
                except ValueError as exc:
                    reason = str(exc)
            if reason is not None or body is None:
                rejected.append((index, PostOutcome(event.key, "skipped", reason)))
            else:
                ready.append((index, event, body))
        report(rejected)

        pending = list(ready)
        if self.batch_supported:
            pending = self._post_batches(pending, report)
        for start in range(0, len(pending), self._single_post_chunk):
            chunk = pending[start : start + self._single_post_chunk]
            report([(index, self._post_one(event, body)) for index, event, body in chunk])

        assert all(o is not None for o in outcomes)
        return [o for o in outcomes if o is not None]

    def _local_rejection(self, event: HelixEvent, now_ms: int) -> Optional[str]:
        if isinstance(event.time_ms, bool) or not isinstance(event.time_ms, int):
            return f"time_ms must be an integer of epoch milliseconds, got {event.time_ms!r}"
        if self._max_event_age_ms is not None and event.time_ms < now_ms - self._max_event_age_ms:
            return "time_ms is older than Helix accepts (30 days)"
        if self._max_future_ms is not None and event.time_ms > now_ms + self._max_future_ms:
            return "time_ms is more than 5 minutes in the future"
        return None

    def _post_one(self, event: HelixEvent, body: dict[str, Any]) -> PostOutcome:
        """One ``POST .../event``: 200 posted, 400 skipped, 5xx/timeouts failed."""
        try:
            response = self._send("POST", EVENT_PATH, json_body=body)
        except VerkadaAuthError:
            raise
        except VerkadaError as exc:
            return PostOutcome(event.key, "failed", str(exc))
        if response.status_code in (200, 201, 202, 204):
            return PostOutcome(event.key, "posted")
        message, _ = _error_message(response)
        message = self._redact(message)
        if response.status_code in (400, 404, 409, 413, 422):
            return PostOutcome(event.key, "skipped", message)
        if response.status_code == 403:
            raise VerkadaError(
                f"Verkada refused to create an event (403: {message}); the key behind {API_KEY_ENV} "
                "needs Helix read/write",
                status=403,
            )
        return PostOutcome(event.key, "failed", f"HTTP {response.status_code}: {message}")

    # batch machinery ------------------------------------------------------------------

    def _post_batches(
        self,
        ready: list[tuple[int, HelixEvent, dict[str, Any]]],
        report: Callable[[list[tuple[int, PostOutcome]]], None],
    ) -> list[tuple[int, HelixEvent, dict[str, Any]]]:
        """Post ``ready`` through batch jobs; return what must go one by one instead."""
        batches = [ready[i : i + self.batch_size] for i in range(0, len(ready), self.batch_size)]
        singles: list[tuple[int, HelixEvent, dict[str, Any]]] = []
        in_flight: list[_Job] = []
        while batches or in_flight:
            # Submit while there is room: polls wait until several jobs are out.
            while batches and len(in_flight) < self._max_jobs_in_flight and self.batch_supported:
                batch = batches.pop(0)
                job = self._submit(batch, report, singles)
                if job is not None:
                    in_flight.append(job)
            if not self.batch_supported:
                for batch in batches:
                    singles.extend(batch)
                batches = []
            if not in_flight:
                continue
            job = min(in_flight, key=lambda j: j.next_poll_at)
            delay = job.next_poll_at - self._monotonic()
            if delay > 0:
                self._sleep(delay)
            if self._poll(job, report):
                in_flight.remove(job)
        return singles

    def _submit(
        self,
        batch: list[tuple[int, HelixEvent, dict[str, Any]]],
        report: Callable[[list[tuple[int, PostOutcome]]], None],
        singles: list[tuple[int, HelixEvent, dict[str, Any]]],
    ) -> Optional[_Job]:
        try:
            response = self._send("POST", BATCH_PATH, json_body={"items": [body for _, _, body in batch]})
        except VerkadaAuthError:
            raise
        except VerkadaError as exc:
            report([(index, PostOutcome(event.key, "failed", str(exc))) for index, event, _ in batch])
            return None
        status = response.status_code
        if status in (403, 404):
            log.warning(
                "Verkada batch endpoint answered %s: posting events one by one from now on", status
            )
            self.batch_supported = False
            singles.extend(batch)
            return None
        if status == 400:
            # The whole batch was refused; post its events singly so that each gets
            # its own verdict instead of condemning 1,000 events for one bad one.
            message, _ = _error_message(response)
            log.warning("Verkada refused a batch (400: %s); posting its events one by one", self._redact(message))
            singles.extend(batch)
            return None
        if status not in (200, 202):
            message, _ = _error_message(response)
            reason = f"batch submit failed (HTTP {status}): {self._redact(message)}"
            report([(index, PostOutcome(event.key, "failed", reason)) for index, event, _ in batch])
            return None
        job_id = (_json(response, "batch submit") or {}).get("job_id")
        if not job_id:
            report([(index, PostOutcome(event.key, "failed", "batch submit returned no job_id")) for index, event, _ in batch])
            return None
        now = self._monotonic()
        # A job takes time to run; the first poll comes later for bigger batches.
        first = self._poll_first_after_s * (1 + len(batch) / MAX_BATCH_ITEMS)
        return _Job(str(job_id), [(index, event) for index, event, _ in batch], now, now + first, first)

    def _poll(self, job: _Job, report: Callable[[list[tuple[int, PostOutcome]]], None]) -> bool:
        """Poll ``job`` once; report and return True once it is final."""
        job.polls += 1
        try:
            response = self._send("GET", f"{BATCH_PATH}/{job.job_id}")
            status = response.status_code
            body = _json(response, "batch status") if status == 200 else None
        except VerkadaAuthError:
            raise
        except VerkadaError as exc:
            response, status, body = None, None, None
            log.warning("Polling Verkada batch job %s failed: %s", job.job_id, exc)
        state = (body or {}).get("status") if isinstance(body, dict) else None
        if state == "completed":
            report(self._completed_outcomes(job, body))
            return True
        if state == "failed":
            # A failed job's items are worth another try, except those its failure file
            # (if it has one) names as invalid: those are skipped with Helix's reason.
            report(self._completed_outcomes(job, body, default="failed"))
            return True
        if status == 404 or self._monotonic() - job.submitted_at > self._job_timeout_s:
            reason = f"Helix batch job {job.job_id} did not finish (status {state or status})"
            report([(index, PostOutcome(event.key, "failed", reason)) for index, event in job.entries])
            return True
        job.poll_interval = min(job.poll_interval * 1.6, self._poll_max_interval_s)
        job.next_poll_at = self._monotonic() + job.poll_interval * random.uniform(0.9, 1.1)
        return False

    def _completed_outcomes(
        self, job: _Job, body: dict[str, Any], default: Status = "posted"
    ) -> list[tuple[int, PostOutcome]]:
        """Outcomes of a finished job: items in the failure file are skipped with their
        error, the others get ``default`` (posted for a completed job)."""
        failed_items = int(body.get("failed_items") or 0)
        failures: dict[int, str] = {}
        if failed_items > 0 and (default == "posted" or body.get("failure_file_url")):
            try:
                failures = self._read_failure_file(body.get("failure_file_url"))
            except VerkadaAuthError:
                raise
            except VerkadaError as exc:
                reason = f"{failed_items} items of job {job.job_id} failed and the failure file is unreadable: {exc}"
                return [(index, PostOutcome(event.key, "failed", reason)) for index, event in job.entries]
        out = []
        for position, (index, event) in enumerate(job.entries):
            if position in failures:
                out.append((index, PostOutcome(event.key, "skipped", failures[position])))
            elif default == "posted":
                out.append((index, PostOutcome(event.key, "posted")))
            else:
                out.append((index, PostOutcome(event.key, default, f"Helix batch job {job.job_id} failed")))
        return out

    def _read_failure_file(self, url: Optional[str]) -> dict[int, str]:
        """``{index: error}`` from a batch job's failure file (JSON list of
        ``{index, error, item}``, possibly wrapped in an object)."""
        if not url:
            raise VerkadaError("no failure_file_url")
        full = self._url(url)
        same_host = urlsplit(full).netloc == urlsplit(self.base_url).netloc
        if same_host:
            body = self._call("GET", full)
        else:
            # A pre-signed link elsewhere: it carries its own authorisation, so send no token.
            check_base_url(full)
            response = self._send("GET", full, auth=False)
            if response.status_code != 200:
                raise self._error(response, "failure file download")
            body = _json(response, "failure file")
        entries = body
        if isinstance(body, dict):
            entries = next((v for v in body.values() if isinstance(v, list)), [])
        failures: dict[int, str] = {}
        for entry in entries or []:
            if isinstance(entry, dict) and isinstance(entry.get("index"), int):
                failures[entry["index"]] = self._redact(str(entry.get("error") or "rejected by Helix"))
        return failures


# --------------------------------------------------------------------------- resource


class VerkadaResource(dg.ConfigurableResource):
    """The Verkada API (cameras and Helix) for one organisation.

    ``base_url`` and ``api_key`` are required; ``get_client()`` names the one missing.
    ``get_client()`` returns a :class:`VerkadaClient` (a context manager: close it, or
    use ``with``). All clients of one base URL in a process share one rate limiter.
    """

    base_url: Optional[str] = Field(
        default=None, description="Verkada API base URL (VERKADA_API_BASE_URL); required"
    )
    api_key: Optional[str] = Field(
        default=None, description="Verkada API key (VERKADA_API_KEY); required when base_url is set"
    )
    timeout_s: float = Field(default=30.0, description="read timeout of each HTTP attempt, seconds")
    connect_timeout_s: float = Field(default=10.0, description="connect timeout of each HTTP attempt, seconds")
    max_retries: int = Field(default=5, description="HTTP retries per request (429, 5xx, connection/read errors)")
    requests_per_5s: Optional[int] = Field(default=25, description="org limit per 5 s window (None: no limit)")
    requests_per_minute: Optional[int] = Field(default=300, description="org limit per minute (None: no limit)")
    rate_limit_margin_ms: int = Field(default=300, description="added to each window to absorb network jitter")
    batch_size: int = Field(default=1000, description="events per Helix batch job (at most 1000)")
    token_renew_margin_s: float = Field(default=180.0, description="renew the 30-minute token this early")
    max_jobs_in_flight: int = Field(default=4, description="batch jobs submitted before polling them")
    max_event_age_days: Optional[float] = Field(
        default=30, description="skip (without a request) events older than this, by the local clock; None: let Helix judge"
    )
    max_future_s: Optional[float] = Field(
        default=300, description="skip events this far ahead of the local clock; None: let Helix judge"
    )

    def resolved_base_url(self) -> str:
        if not self.base_url:
            raise VerkadaConfigError(
                "VERKADA_API_BASE_URL is not set: set it and VERKADA_API_KEY (for the built-in "
                "sandbox, start `make run` with no API settings at all)."
            )
        return check_base_url(self.base_url)

    def _resolved_api_key(self) -> str:
        if self.api_key:
            return self.api_key
        if self.base_url:
            raise VerkadaConfigError(f"VERKADA_API_BASE_URL is set but {API_KEY_ENV} is not: set {API_KEY_ENV}")
        raise VerkadaConfigError(f"VERKADA_API_BASE_URL and {API_KEY_ENV} are not set: set both.")

    def get_client(self) -> VerkadaClient:
        """A new client (own HTTP session, token cache and counters; shared limiter)."""
        api_key = self._resolved_api_key()  # first: a missing key is the likelier mistake
        return VerkadaClient(
            self.resolved_base_url(),
            api_key,
            timeout=(self.connect_timeout_s, self.timeout_s),
            max_retries=self.max_retries,
            rate_limit=RateLimitSettings(
                requests_per_5s=self.requests_per_5s,
                requests_per_minute=self.requests_per_minute,
                margin_ms=self.rate_limit_margin_ms,
            ),
            batch_size=self.batch_size,
            token_renew_margin_s=self.token_renew_margin_s,
            max_jobs_in_flight=self.max_jobs_in_flight,
            max_event_age_s=None if self.max_event_age_days is None else self.max_event_age_days * 86_400,
            max_future_s=self.max_future_s,
        )
