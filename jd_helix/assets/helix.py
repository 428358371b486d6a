"""Delivery to Verkada Helix: the event type, and the hourly ledger of posted events."""

import time
from collections import Counter
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

import dagster as dg
import orjson
import pandas as pd

from jd_helix.assets.asset_defaults import OWNERS, VERKADA_HELIX_POOL, hourly_asset
from jd_helix.assets.events import transaction_camera_events
from jd_helix.assets.failures import TRANSIENT_RETRY, explained_failures
from jd_helix.assets.helix_destination import check_destination, record_destination
from jd_helix.assets.helix_ledger import pin_window, postable_events, record_outcomes
from jd_helix.assets.hourly_table import HourlyTable, HourWindow, hourly_result
from jd_helix.assets.tables import table_metadata
from jd_helix.catch_up import catch_up_condition
from jd_helix.clients.verkada.client import EnsuredEventType, VerkadaClient
from jd_helix.clients.verkada.events import HelixEvent, PostOutcome
from jd_helix.helix_status import HelixStatus
from jd_helix.partitions import DEADLINE_MINUTE
from jd_helix.resources.helix_settings import EVENT_SCHEMA, HelixSettings
from jd_helix.resources.verkada import VerkadaResource
from jd_helix.resources.warehouse import WarehouseResource
from jd_helix.time_utils import naive_utc

# The catalog's freshness badge: some hour posted in the hour before each :45 deadline
# (the per-hour verdict is the last_hour_posted_by_deadline check, see freshness.py).
HELIX_EVENTS_FRESHNESS = dg.FreshnessPolicy.cron(
    deadline_cron=f"{DEADLINE_MINUTE} * * * *", lower_bound_delta=timedelta(hours=1), timezone="UTC"
)
ATTRIBUTE_COLUMNS = ["transaction_amount", "item_id", "item_name", "store_id", "store_name", "pos_id", "pos_name"]


def ensure_on_helix(client: VerkadaClient, warehouse: WarehouseResource, name: str):
    """Find or create the event type on the Helix the client points at (its schema brought up
    to date). Refused before any request when the ledger belongs to another Helix.

    helix_events calls this on every run, so it always posts under the uid of the Helix it
    posts to; only the helix_event_type asset records the result in DuckDB."""
    with warehouse.read() as conn:
        check_destination(conn, warehouse.database, client.base_url)
    return client.ensure_event_type(name, EVENT_SCHEMA)


def record_event_type(warehouse: WarehouseResource, ensured: EnsuredEventType) -> None:
    with warehouse.write() as conn:
        conn.execute("DELETE FROM helix_event_type")
        conn.execute(
            "INSERT INTO helix_event_type VALUES (?, ?, ?, ?, ?)",
            [
                ensured.uid,
                ensured.name,
                orjson.dumps(ensured.schema).decode(),
                ensured.action,
                naive_utc(datetime.now(timezone.utc)),
            ],
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
    group_name="helix",
    kinds={"verkada", "duckdb"},
    pool=VERKADA_HELIX_POOL,
    owners=OWNERS,
    metadata=table_metadata("helix_event_type"),
    description=(
        "The Helix event type sales are posted as (JD_HELIX_EVENT_TYPE): looked up by name, "
        "created if missing, its schema brought up to date."
    ),
    retry_policy=TRANSIENT_RETRY,  # find-or-create by name: a retry finds what the first try made
)
@explained_failures
def helix_event_type(
    verkada: VerkadaResource, warehouse: WarehouseResource, helix_settings: HelixSettings
) -> dg.MaterializeResult:
    with verkada.get_client() as client:
        ensured = ensure_on_helix(client, warehouse, helix_settings.event_type_name)
        record_event_type(warehouse, ensured)
        requests = client.requests_made
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": 1,
            "event_type_uid": ensured.uid,
            "name": ensured.name,
            "action": ensured.action,
            "event_schema": dg.MetadataValue.json(ensured.schema),
            "requests": requests,
        }
    )


def _event(row) -> HelixEvent:
    attributes = {"transaction_id": row.transaction_id}
    for column in ATTRIBUTE_COLUMNS:
        value = getattr(row, column)
        if value is not None and not pd.isna(value):
            attributes[column] = float(value) if column == "transaction_amount" else value
    return HelixEvent(
        camera_id=row.verkada_camera_id,
        event_type_uid=row.event_type_uid,
        time_ms=int(row.time_ms),
        attributes=attributes,
        key=row.transaction_id,
    )


def record_footage_links(
    client: VerkadaClient,
    warehouse: WarehouseResource,
    events: list[HelixEvent],
    outcomes: list[PostOutcome],
    budget: int,
) -> int:
    """Store a Command footage link for up to `budget` of the events just posted."""
    posted = [e for e, o in zip(events, outcomes, strict=True) if o.status == HelixStatus.POSTED][:budget]
    links = [(client.footage_link(e.camera_id, e.time_ms // 1000), e.key) for e in posted]
    if links:
        frame = pd.DataFrame(links, columns=["url", "key"])  # noqa: F841 - read by DuckDB below
        with warehouse.write() as conn:
            conn.execute(
                "UPDATE helix_events SET footage_url = f.url FROM frame f WHERE helix_events.transaction_id = f.key"
            )
    return len(links)


class LedgerRecorder:
    """Writes each batch's outcomes to the ledger as Helix answers, and counts them per hour."""

    def __init__(self, warehouse: WarehouseResource, hour_of: Mapping[str, Any]):
        self.warehouse = warehouse
        self.hour_of = hour_of
        self.counts: Counter[tuple[datetime, str]] = Counter()

    def __call__(self, outcomes: list[PostOutcome]) -> None:
        frame = pd.DataFrame([(o.key, o.status, o.reason) for o in outcomes], columns=["key", "status", "reason"])
        with self.warehouse.write() as conn:
            record_outcomes(conn, frame, datetime.now(timezone.utc))
        self.counts.update((self.hour_of[o.key], o.status) for o in outcomes)

    def this_run(self, hour: datetime) -> dict[str, int]:
        return {f"{status}_this_run": self.counts[(hour, status)] for status in (HelixStatus.POSTED, HelixStatus.FAILED, HelixStatus.SKIPPED)}

    def total(self, status: str) -> int:
        return sum(count for (_, s), count in self.counts.items() if s == status)


@hourly_asset(
    deps=[transaction_camera_events, helix_event_type],
    kinds={"verkada", "duckdb"},
    pool=VERKADA_HELIX_POOL,
    metadata=table_metadata("helix_events"),
    automation_condition=catch_up_condition(),
    freshness_policy=HELIX_EVENTS_FRESHNESS,
    description=(
        "The Helix ledger: one row per sale with its Helix triple (pinned before the first "
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
    with verkada.get_client() as client:
        event_type_uid = ensure_on_helix(client, warehouse, helix_settings.event_type_name).uid
        with warehouse.write() as conn:
            record_destination(conn, warehouse.database, client.base_url, event_type_uid, naive_utc(datetime.now(timezone.utc)))
            pinned = pin_window(conn, window.start, window.end, event_type_uid, datetime.now(timezone.utc))
            to_post = postable_events(conn, window.start, window.end, helix_settings.max_attempts)
        context.log.info(
            f"{len(to_post)} events to post ({pinned.newly_pinned} newly pinned, "
            f"{pinned.moved_to_free_ms} moved to a free millisecond)"
        )
        hour_of = {key: pd.Timestamp(hour).to_pydatetime() for key, hour in zip(to_post["transaction_id"], to_post["sale_hour"], strict=True)}
        recorder = LedgerRecorder(warehouse, hour_of)
        events = [_event(row) for row in to_post.itertuples(index=False)]
        outcomes = client.post_events(events, on_batch_done=recorder, schema=EVENT_SCHEMA) if events else []
        links = 0
        if helix_settings.footage_links:
            links = record_footage_links(client, warehouse, events, outcomes, helix_settings.footage_links_per_run)
        requests, rate_limited = client.requests_made, client.rate_limited

    with warehouse.read() as conn:
        per_hour = TABLE.figures_by_hour(conn, window)
    for hour, figures in per_hour.items():
        figures.update(recorder.this_run(hour))
    if recorder.total(HelixStatus.FAILED):
        context.log.warning(f"{recorder.total(HelixStatus.FAILED)} events failed this run; helix_retry_sensor will retry them")
    return hourly_result(
        context,
        window,
        per_hour,
        run_wide={
            "moved_to_free_ms": pinned.moved_to_free_ms,
            "footage_links": links,
            "event_type_uid": event_type_uid,
            "requests": requests,
            "rate_limited_429": rate_limited,
            "duration_s": round(time.monotonic() - started, 3),
        },
    )
