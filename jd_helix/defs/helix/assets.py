"""Delivery to Verkada Helix: the event type, and the hourly ledger of posted events."""

import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import dagster as dg
import orjson
import pandas as pd

from jd_helix.clients.verkada.client import EnsuredEventType, VerkadaClient
from jd_helix.clients.verkada.events import PostOutcome
from jd_helix.defs.exceptions.assets import transaction_exceptions
from jd_helix.defs.helix.destination import check_destination, record_destination
from jd_helix.defs.helix.ledger import pin_window, record_outcomes
from jd_helix.defs.helix.outbox import Outbox
from jd_helix.defs.hourly_sales.camera_events import transaction_camera_events
from jd_helix.domain.event_types import EventType, configured_event_types
from jd_helix.domain.frozen_heap import frozen_heap
from jd_helix.domain.helix_status import HelixStatus
from jd_helix.domain.time_utils import naive_utc
from jd_helix.lib.asset_defaults import OWNERS, VERKADA_HELIX_POOL, hourly_asset
from jd_helix.lib.catch_up import catch_up_condition
from jd_helix.lib.failures import TRANSIENT_RETRY, explained_failures
from jd_helix.lib.hourly_table import HourlyTable, HourWindow, hourly_result
from jd_helix.lib.partitions import DEADLINE_MINUTE
from jd_helix.lib.run_tags import LATE_BECAUSE_TAG
from jd_helix.lib.tables import table_metadata
from jd_helix.resources.helix_settings import HelixSettings
from jd_helix.resources.verkada import VerkadaResource
from jd_helix.resources.warehouse import WarehouseResource

# The catalog's freshness badge: some hour posted in the hour before each :45 deadline
# (the per-hour verdict is the last_hour_posted_by_deadline check, see freshness.py beside it).
HELIX_EVENTS_FRESHNESS = dg.FreshnessPolicy.cron(
    deadline_cron=f"{DEADLINE_MINUTE} * * * *", lower_bound_delta=timedelta(hours=1), timezone="UTC"
)


def ensure_on_helix(
    client: VerkadaClient, warehouse: WarehouseResource, event_types: tuple[EventType, ...]
) -> list[EnsuredEventType]:
    """Find or create each declared event type on the Helix the client points at (its schema
    brought up to date), in declared order. Refused before any request when the ledger
    belongs to another Helix.

    helix_events calls this on every run, before pinning, so it always posts under the uids
    of the Helix it posts to and a new attribute reaches Helix before the first event that
    carries it; only the helix_event_type asset records the result in DuckDB."""
    with warehouse.read() as conn:
        check_destination(conn, warehouse.database, client.base_url)
    return [client.ensure_event_type(event_type.name, event_type.schema) for event_type in event_types]


def record_event_types(conn, ensured: list[EnsuredEventType], replace: bool) -> None:
    """The ensured types in helix_event_type: all of it (`replace`, the helix_event_type asset),
    or only types not yet there (helix_events, so that a type declared since the asset last ran
    is known by name to the ledger's checks and audit)."""
    if replace:
        conn.execute("DELETE FROM helix_event_type")
    conn.executemany(
        "INSERT OR IGNORE INTO helix_event_type VALUES (?, ?, ?, ?, ?)",
        [[e.uid, e.name, orjson.dumps(e.schema).decode(), e.action, naive_utc(datetime.now(UTC))] for e in ensured],
    )


TABLE = HourlyTable(
    name="helix_events",
    # Instants as UTC timestamps: what a person reads; the epoch milliseconds are in the table.
    preview_columns=(
        "transaction_id, verkada_camera_id, epoch_ms(time_ms) AS event_at, status, reason, attempts, posted_at"
    ),
    preview_order=f"status <> '{HelixStatus.FAILED}', time_ms, transaction_id",
    figures={f"status/{status}": f"count(*) FILTER (WHERE status = '{status}')" for status in HelixStatus},
)


@dg.asset(
    # Refreshed with the reference data (dimensions_job): the group is exactly that job's assets.
    group_name="reference_data",
    kinds={"verkada", "duckdb"},
    pool=VERKADA_HELIX_POOL,
    owners=OWNERS,
    metadata=table_metadata("helix_event_type"),
    description=(
        "The Helix event types sales are posted as (JD_HELIX_EVENT_TYPES_FILE, else the one type "
        "JD_HELIX_EVENT_TYPE): each looked up by name, created if missing, its schema brought up to date."
    ),
    retry_policy=TRANSIENT_RETRY,  # find-or-create by name: a retry finds what the first try made
)
@explained_failures
def helix_event_type(
    verkada: VerkadaResource, warehouse: WarehouseResource, helix_settings: HelixSettings
) -> dg.MaterializeResult:
    with verkada.get_client() as client:
        all_ensured = ensure_on_helix(client, warehouse, configured_event_types(helix_settings))
        with warehouse.write() as conn:
            record_event_types(conn, all_ensured, replace=True)
        requests = client.requests_made
    ensured = all_ensured[0]  # the default (first) type, as before types were declared
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(all_ensured),
            "event_type_uid": ensured.uid,
            "name": ensured.name,
            "action": ensured.action,
            "event_schema": dg.MetadataValue.json(ensured.schema),
            "event_types": dg.MetadataValue.json(
                [{"name": e.name, "event_type_uid": e.uid, "action": e.action} for e in all_ensured]
            ),
            "requests": requests,
        }
    )


def record_footage_links(
    client: VerkadaClient, warehouse: WarehouseResource, posted: list[tuple[str, str, int]], event_type_uid: str
) -> int:
    """Store a Command footage link for each posted event of `posted` (key, camera, time_ms).

    The links are fetched first (requests at the rate limit's pace), then stored in one
    write: no DuckDB connection is held while waiting for Verkada."""
    if not posted:
        return 0
    links = [(client.footage_link(camera, time_ms // 1000), key) for key, camera, time_ms in posted]
    frame = pd.DataFrame(links, columns=["url", "key"])  # noqa: F841 - read by DuckDB below
    with warehouse.write() as conn:
        conn.execute(
            "UPDATE helix_events SET footage_url = f.url FROM frame f "
            "WHERE helix_events.transaction_id = f.key AND helix_events.event_type_uid = ?",
            [event_type_uid],
        )
    return len(links)


class LedgerRecorder:
    """Writes each batch's outcomes to the ledger as Helix answers, and counts them per hour.

    Keeps no more than the counts and the triples (key, camera, time_ms) of the first
    `keep_posted` events posted (for footage links): the outcomes of a whole hour never
    pile up here."""

    def __init__(self, warehouse: WarehouseResource, event_type_uid: str, keep_posted: int = 0):
        self.warehouse = warehouse
        self.event_type_uid = event_type_uid
        self.counts: Counter[tuple[datetime, str]] = Counter()
        self.keep_posted = keep_posted
        self.posted: list[tuple[str, str, int]] = []

    def __call__(self, outcomes: list[PostOutcome]) -> None:
        frame = pd.DataFrame([(o.key, o.status, o.reason) for o in outcomes], columns=["key", "status", "reason"])
        with self.warehouse.write() as conn:
            record_outcomes(conn, frame, datetime.now(UTC), self.event_type_uid)
            per_hour = conn.execute(
                "SELECT l.sale_hour, f.status, count(*) FROM frame f "
                "JOIN helix_events l ON l.transaction_id = f.key AND l.event_type_uid = ? GROUP BY ALL",
                [self.event_type_uid],
            ).fetchall()
            room = self.keep_posted - len(self.posted)
            if room > 0:
                self.posted += conn.execute(
                    "SELECT l.transaction_id, l.verkada_camera_id, l.time_ms FROM frame f "
                    "JOIN helix_events l ON l.transaction_id = f.key AND l.event_type_uid = ? "
                    "WHERE f.status = ? ORDER BY l.time_ms LIMIT ?",
                    [self.event_type_uid, HelixStatus.POSTED, room],
                ).fetchall()
        self.counts.update({(hour, status): count for hour, status, count in per_hour})

    def this_run(self, hour: datetime) -> dict[str, int]:
        return {
            f"{status}_this_run": self.counts[(hour, status)]
            for status in (HelixStatus.POSTED, HelixStatus.FAILED, HelixStatus.SKIPPED)
        }

    def total(self, status: str) -> int:
        return sum(count for (_, s), count in self.counts.items() if s == status)


@hourly_asset(
    deps=[transaction_camera_events, transaction_exceptions, helix_event_type],
    kinds={"verkada", "duckdb"},
    pool=VERKADA_HELIX_POOL,
    metadata=table_metadata("helix_events"),
    automation_condition=catch_up_condition(),
    freshness_policy=HELIX_EVENTS_FRESHNESS,
    description=(
        "The Helix ledger: one row per sale (or refund) and event type, with its Helix triple (pinned before the first "
        "attempt) and status: posted, failed (retried by helix_retry_sensor), skipped (Helix "
        "will never take it), unmapped (no Verkada camera yet) or pending."
    ),
)
@explained_failures
def helix_events(
    context: dg.AssetExecutionContext,
    verkada: VerkadaResource,
    warehouse: WarehouseResource,
    helix_settings: HelixSettings,
) -> dg.MaterializeResult:
    started = time.monotonic()
    window = HourWindow.of(context)
    event_types = configured_event_types(helix_settings)
    with verkada.get_client() as client, warehouse.staging_directory("helix_events") as staging:
        ensured = ensure_on_helix(client, warehouse, event_types)
        uids = [e.uid for e in ensured]
        outboxes = []
        # Each type's triples are pinned and committed before the first request; each type's
        # outbox holds what that transaction saw as still to post of it.
        with warehouse.write() as conn:
            record_destination(conn, warehouse.database, client.base_url, uids, naive_utc(datetime.now(UTC)))
            record_event_types(conn, ensured, replace=False)
            pinned = [
                pin_window(
                    conn,
                    window.start,
                    window.end,
                    uid,
                    datetime.now(UTC),
                    event_type.takes_sql,
                    event_type.takes_params,
                )
                for event_type, uid in zip(event_types, uids, strict=True)
            ]
            for index, (event_type, uid) in enumerate(zip(event_types, uids, strict=True)):
                directory = staging / f"type-{index}"
                directory.mkdir()
                outboxes.append(Outbox(directory, uid, event_type.attributes))
                outboxes[-1].fill(conn, window.start, window.end, helix_settings.max_attempts)
        pinned_s = time.monotonic() - started
        moved = sum(p.moved_to_free_ms for p in pinned)
        context.log.info(
            f"{sum(o.count for o in outboxes)} events to post ({sum(p.newly_pinned for p in pinned)} newly pinned, "
            f"{moved} moved to a free millisecond) of {len(event_types)} event types; pinned in {pinned_s:.1f} s"
        )
        limiter = client.transport.limiter  # the process's, shared: its wait so far is not this posting's
        waited_before = limiter.waited_s
        links_left = helix_settings.footage_links_per_run if helix_settings.footage_links else 0
        links = 0
        recorders = []
        for event_type, outbox in zip(event_types, outboxes, strict=True):
            recorder = LedgerRecorder(warehouse, outbox.event_type_uid, links_left)
            if outbox.count:
                with frozen_heap():
                    client.post_event_stream(outbox.events(), on_batch_done=recorder, schema=event_type.schema)
            if helix_settings.footage_links:
                links += record_footage_links(client, warehouse, recorder.posted, outbox.event_type_uid)
                links_left -= len(recorder.posted)
            recorders.append(recorder)
        posted_s = time.monotonic() - started - pinned_s
        context.log.info(
            f"Posted in {posted_s:.1f} s: {client.requests_made} requests, "
            f"{limiter.waited_s - waited_before:.1f} s waiting for the rate limit"
        )
        requests, rate_limited = client.requests_made, client.rate_limited

    with warehouse.read() as conn:
        per_hour = TABLE.figures_by_hour(conn, window)
    for hour, figures in per_hour.items():
        for recorder in recorders:
            for name, count in recorder.this_run(hour).items():
                figures[name] = figures.get(name, 0) + count
    failed = sum(recorder.total(HelixStatus.FAILED) for recorder in recorders)
    if failed:
        context.log.warning(f"{failed} events failed this run; helix_retry_sensor will retry them")
    return hourly_result(
        context,
        window,
        per_hour,
        run_wide={
            "moved_to_free_ms": moved,
            "footage_links": links,
            "event_type_uid": uids[0],
            "event_types": len(uids),
            "requests": requests,
            "rate_limited_429": rate_limited,
            "pin_s": round(pinned_s, 3),
            "post_s": round(posted_s, 3),
            "duration_s": round(time.monotonic() - started, 3),
            # A run of hour_recovery_sensor: why these hours are late (the outage's error).
            **({"late_because": context.run.tags[LATE_BECAUSE_TAG]} if LATE_BECAUSE_TAG in context.run.tags else {}),
        },
    )
