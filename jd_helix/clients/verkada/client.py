"""The Verkada API client: cameras, footage links, Helix event types and events.

Follows docs/verkada-helix-api.md. Usage::

    with VerkadaClient(base_url, api_key, VerkadaClientSettings()) as client:
        cameras = client.list_cameras()
        event_type = client.ensure_event_type("JD Sports Sale", {"transaction_id": "string", ...})
        outcomes = client.post_events(events, on_batch_done=write_ledger_rows)
        metadata = {"requests": client.requests_made, "rate_limited": client.rate_limited}

Requests go through ``transport`` (rate limit, token, urllib3 retries); events go in batch
jobs (``batch_jobs``) or, where Helix has no batch endpoint, one by one (``single_posts``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import chain
from typing import Any, Literal

from jd_helix.clients.verkada.attribute_values import event_body
from jd_helix.clients.verkada.batch_jobs import BatchPoster
from jd_helix.clients.verkada.endpoints import CAMERAS_PATH, EVENT_TYPE_PATH, FOOTAGE_LINK_PATH, SEARCH_PATH
from jd_helix.clients.verkada.errors import API_KEY_ENV, VerkadaConfigError, VerkadaError, parse_json
from jd_helix.clients.verkada.events import HelixEvent, PostOutcome, ReadyEvent, ReportOutcomes
from jd_helix.clients.verkada.limits import (
    CAMERA_PAGE_SIZE,
    HELIX_MAX_EVENT_AGE,
    HELIX_MAX_FUTURE,
    MAX_BATCH_ITEMS,
    SCHEMA_TYPES,
    SEARCH_PAGE_SIZE,
)
from jd_helix.clients.verkada.outcome_reporter import OutcomeReporter
from jd_helix.clients.verkada.prefetch import Prefetched
from jd_helix.clients.verkada.rate_limit import VerkadaRateLimiter, shared_limiter
from jd_helix.clients.verkada.settings import VerkadaClientSettings, check_base_url
from jd_helix.clients.verkada.single_posts import post_singly
from jd_helix.clients.verkada.transport import VerkadaTransport
from jd_helix.domain.helix_status import HelixStatus

BATCHES_AHEAD = 2  # batches made ready before the poster takes them (~1,000 events and bodies each)


@dataclass(frozen=True)
class EnsuredEventType:
    uid: str
    name: str
    schema: dict[str, str]
    action: Literal["found", "created", "updated"]


class VerkadaClient:
    """A Verkada API client for one org. Thread-safe for the read calls and the token;
    call ``post_events`` from one thread at a time. Use as a context manager or call
    :meth:`close`.

    ``limiter`` defaults to the process-wide limiter of the base URL; ``now_ms``,
    ``monotonic`` and ``sleep`` are the clock, replaceable in tests.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        settings: VerkadaClientSettings | None = None,
        *,
        limiter: VerkadaRateLimiter | None = None,
        now_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        settings = settings or VerkadaClientSettings()
        if not api_key:
            raise VerkadaConfigError(f"No Verkada API key: set {API_KEY_ENV}")
        if not 1 <= settings.batch_size <= MAX_BATCH_ITEMS:
            raise VerkadaConfigError(f"batch_size must be 1..{MAX_BATCH_ITEMS}, got {settings.batch_size}")
        self.base_url = check_base_url(base_url)
        self.settings = settings
        self._now_ms = now_ms
        self._max_event_age_ms = None if settings.max_event_age_s is None else int(settings.max_event_age_s * 1000)
        self._max_future_ms = None if settings.max_future_s is None else int(settings.max_future_s * 1000)
        self._schemas: dict[str, dict[str, str]] = {}  # event type uid -> schema, as ensured
        if limiter is None:
            limiter = shared_limiter(self.base_url, settings.rate_limit)
        self.transport = VerkadaTransport(self.base_url, api_key, settings, limiter, monotonic)
        self._batches = BatchPoster(self.transport, settings, monotonic, sleep)

    # -- counters and lifecycle ---------------------------------------------------

    @property
    def requests_made(self) -> int:
        """HTTP requests actually sent by this client, retries included."""
        return self.transport.requests_made

    @property
    def rate_limited(self) -> int:
        """429 responses this client received (each one was waited out and retried)."""
        return self.transport.rate_limited

    @property
    def token_renewals(self) -> int:
        """How many tokens this client has fetched."""
        return self.transport.token.renewals

    @property
    def batch_supported(self) -> bool:
        """False once the batch endpoint answered 404/403: events then go one by one."""
        return self._batches.supported

    def close(self) -> None:
        self.transport.close()

    def __enter__(self) -> VerkadaClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:  # never show the key or token
        return f"VerkadaClient(base_url={self.base_url!r})"

    # -- cameras -------------------------------------------------------------------

    def list_cameras(self) -> list[dict[str, Any]]:
        """Every camera of the org: all pages of ``GET /cameras/v1/devices``."""
        cameras: list[dict[str, Any]] = []
        token: str | None = None
        seen: set[str] = set()
        while True:
            params: dict[str, Any] = {"page_size": CAMERA_PAGE_SIZE}
            if token:
                params["page_token"] = token
            body = self.transport.call("GET", CAMERAS_PATH, params=params)
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
        body = self.transport.call(
            "GET", FOOTAGE_LINK_PATH, params={"camera_id": camera_id, "timestamp": int(timestamp_s)}
        )
        url = body.get("url")
        if not url:
            raise VerkadaError("Verkada footage link response carried no url")
        return str(url)

    # -- event types -----------------------------------------------------------------

    def _find_event_type(self, name: str) -> dict[str, Any] | None:
        body = self.transport.call("GET", EVENT_TYPE_PATH, params={"name": name})
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
            response = self.transport.send("POST", EVENT_TYPE_PATH, json_body={"name": name, "event_schema": schema})
            if response.status_code == 200:
                created = parse_json(response, "create event type")
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
                raise self.transport.error(response, "create event type")
        uid = str(existing["event_type_uid"])
        current = dict(existing.get("event_schema") or {})
        if current == schema:
            action = "found"
        else:
            self.transport.call(
                "PATCH", EVENT_TYPE_PATH, params={"event_type_uid": uid}, json_body={"event_schema": schema}
            )
            action = "updated"
        self._schemas[uid] = schema
        return EnsuredEventType(uid, name, schema, action)

    # -- events ----------------------------------------------------------------------

    def search_events(
        self, event_type_uid: str, start_ms: int, end_ms: int, page_size: int = SEARCH_PAGE_SIZE
    ) -> Iterator[dict[str, Any]]:
        """Every event Helix holds of ``event_type_uid`` with ``start_ms <= time_ms < end_ms``:
        all pages of ``POST .../event/search``, one request each, yielded page by page.

        The page token goes back as the ``page_token`` query parameter; the answer's
        ``next_page_token`` or ``next_token`` (docs/verkada-helix-api.md, "search paging") is read.
        """
        body = {"event_type_uid": event_type_uid, "start_time_ms": int(start_ms), "end_time_ms": int(end_ms)}
        token: str | None = None
        seen: set[str] = set()
        while True:
            params: dict[str, Any] = {"page_size": page_size}
            if token:
                params["page_token"] = token
            page = self.transport.call("POST", SEARCH_PATH, params=params, json_body=body)
            yield from page.get("events") or []
            next_token = page.get("next_page_token")
            if next_token is None:
                next_token = page.get("next_token")
            if next_token is None or next_token == "":
                return
            token = str(next_token)
            if token in seen:
                raise VerkadaError("Verkada event search repeated a page token; stopping")
            seen.add(token)

    def post_events(
        self,
        events: Sequence[HelixEvent],
        *,
        on_batch_done: Callable[[list[PostOutcome]], None] | None = None,
        schema: Mapping[str, str] | None = None,
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
        exactly once, in order, from a thread of its own (so that the caller's writes do
        not hold up the requests); all calls are done when ``post_events`` returns or
        raises. An exception from ``on_batch_done`` stops the posting and is raised here.

        Raises VerkadaAuthError if the key is refused mid-way (outcomes already passed
        to ``on_batch_done`` stand; the rest were not reported).
        """
        outcomes: list[PostOutcome | None] = [None] * len(events)

        def keep(done: list[tuple[int, PostOutcome]]) -> None:
            for index, outcome in done:
                outcomes[index] = outcome

        self._post(events, keep, on_batch_done, schema)
        assert all(o is not None for o in outcomes)
        return [o for o in outcomes if o is not None]

    def post_event_stream(
        self,
        events: Iterable[HelixEvent],
        *,
        on_batch_done: Callable[[list[PostOutcome]], None],
        schema: Mapping[str, str] | None = None,
    ) -> None:
        """Post ``events`` as ``post_events`` does, for any number of them: the iterable is
        read (from a thread of the client's) a couple of batches ahead of their submit, and nothing is kept of an event once its
        outcome has gone to ``on_batch_done`` (its only report), so memory holds the jobs in
        flight, not the whole stream."""
        self._post(events, None, on_batch_done, schema)

    def _post(
        self,
        events: Iterable[HelixEvent],
        keep: ReportOutcomes | None,
        on_batch_done: Callable[[list[PostOutcome]], None] | None,
        schema: Mapping[str, str] | None,
    ) -> None:
        reporter = OutcomeReporter(on_batch_done) if on_batch_done is not None else None
        batches: Prefetched[list[ReadyEvent]] | None = None

        def report(done: list[tuple[int, PostOutcome]]) -> None:
            if not done:
                return
            if keep is not None:
                keep(done)
            if reporter is not None:
                reporter.put([outcome for _, outcome in done])

        try:
            # Made ahead by a thread of their own, so that one is ready whenever the limiter gives a slot.
            batches = Prefetched(self._ready_batches(events, schema, report), depth=BATCHES_AHEAD)
            singles = self._batches.post(batches, report) if self._batches.supported else []
            # What the batch poster handed back, then what it left (the endpoint is missing).
            rest = chain(singles, chain.from_iterable(batches))
            post_singly(self.transport, rest, report, self.settings.single_post_chunk)
        finally:
            if batches is not None:
                batches.close()  # before the reporter: the batch maker reports skipped events
            if reporter is not None:
                reporter.close()  # every outcome reported so far is handed over, by an error too

    def _ready_batches(
        self, events: Iterable[HelixEvent], schema: Mapping[str, str] | None, report: ReportOutcomes
    ) -> Iterator[list[ReadyEvent]]:
        """``events`` ready to send (with their bodies), ``batch_size`` at a time; the ones
        Helix would refuse are reported skipped on the way.

        Lazy: a batch's bodies are built a couple of batches ahead of the poster (in the
        ``Prefetched`` thread), instead of all before the first request (seconds for
        100,000 events).
        """
        size = self.settings.batch_size
        ready: list[ReadyEvent] = []
        rejected: list[tuple[int, PostOutcome]] = []
        now = self._now_ms()
        for index, event in enumerate(events):
            reason = self._local_rejection(event, now)
            body: dict[str, Any] | None = None
            if reason is None:
                try:
                    body = event_body(event, schema if schema is not None else self._schemas.get(event.event_type_uid))
                except ValueError as exc:
                    reason = str(exc)
            if reason is not None or body is None:
                rejected.append((index, PostOutcome(event.key, HelixStatus.SKIPPED, reason)))
            else:
                ready.append((index, event, body))
            if len(ready) == size:
                report(rejected)
                rejected = []
                yield ready
                ready = []
        report(rejected)
        if ready:
            yield ready

    def _local_rejection(self, event: HelixEvent, now_ms: int) -> str | None:
        if isinstance(event.time_ms, bool) or not isinstance(event.time_ms, int):
            return f"time_ms must be an integer of epoch milliseconds, got {event.time_ms!r}"
        if self._max_event_age_ms is not None and event.time_ms < now_ms - self._max_event_age_ms:
            return f"time_ms is older than Helix accepts ({HELIX_MAX_EVENT_AGE.days} days)"
        if self._max_future_ms is not None and event.time_ms > now_ms + self._max_future_ms:
            return f"time_ms is more than {HELIX_MAX_FUTURE.seconds // 60} minutes in the future"
        return None
