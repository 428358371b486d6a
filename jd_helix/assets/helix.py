"""Delivery to Verkada Helix: the event type, and the hourly ledger of posted events."""

import time
from datetime import datetime, timezone

import dagster as dg
import orjson
import pandas as pd

from jd_helix.assets.events import transaction_camera_events
from jd_helix.assets.helix_ledger import (
    FAILED,
    POSTED,
    SKIPPED,
    pin_window,
    postable_events,
    record_outcomes,
    status_counts,
)
from jd_helix.assets.metadata import column_schema, preview, window_metadata
from jd_helix.assets.sales import GROUP as HOURLY_GROUP
from jd_helix.assets.sales import naive_utc
from jd_helix.partitions import hourly_backfill_policy, hourly_partitions
from jd_helix.resources.helix_settings import EVENT_SCHEMA, HelixSettings
from jd_helix.resources.verkada import HelixEvent, PostOutcome, VerkadaClient, VerkadaResource
from jd_helix.resources.warehouse import WarehouseResource

# One posting step at a time across all runs: the org's rate limit is shared.
HELIX_POOL = "verkada_helix"
ATTRIBUTE_COLUMNS = ["transaction_amount", "item_id", "item_name", "store_id", "store_name", "pos_id", "pos_name"]


def ensure_event_type(client: VerkadaClient, warehouse: WarehouseResource, name: str):
    """Find or create the event type (bringing its schema up to date) and record it."""
    ensured = client.ensure_event_type(name, EVENT_SCHEMA)
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
    return ensured


@dg.asset(
    group_name="helix",
    kinds={"verkada", "duckdb"},
    pool=HELIX_POOL,
    owners=["team:retail-data"],
    description=(
        "The Helix event type sales are posted as (JD_HELIX_EVENT_TYPE): looked up by name, "
        "created if missing, its schema brought up to date."
    ),
)
def helix_event_type(
    verkada: VerkadaResource, warehouse: WarehouseResource, helix_settings: HelixSettings
) -> dg.MaterializeResult:
    with verkada.get_client() as client:
        ensured = ensure_event_type(client, warehouse, helix_settings.event_type_name)
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
    posted = [e for e, o in zip(events, outcomes) if o.status == POSTED][:budget]
    links = [(client.footage_link(e.camera_id, e.time_ms // 1000), e.key) for e in posted]
    if links:
        frame = pd.DataFrame(links, columns=["url", "key"])  # noqa: F841 - read by DuckDB below
        with warehouse.write() as conn:
            conn.execute(
                "UPDATE helix_events SET footage_url = f.url FROM frame f WHERE helix_events.transaction_id = f.key"
            )
    return len(links)


@dg.asset(
    partitions_def=hourly_partitions,
    backfill_policy=hourly_backfill_policy,
    deps=[transaction_camera_events, helix_event_type],
    group_name=HOURLY_GROUP,
    kinds={"verkada", "duckdb"},
    pool=HELIX_POOL,
    owners=["team:retail-data"],
    description=(
        "The Helix ledger: one row per sale with its Helix triple (pinned before the first "
        "attempt) and status: posted, failed (retried by helix_retry_sensor), skipped (Helix "
        "will never take it), unmapped (no Verkada camera yet) or pending."
    ),
)
def helix_events(
    context: dg.AssetExecutionContext,
    verkada: VerkadaResource,
    warehouse: WarehouseResource,
    helix_settings: HelixSettings,
) -> dg.MaterializeResult:
    started = time.monotonic()
    window = context.partition_time_window
    start, end = naive_utc(window.start), naive_utc(window.end)
    this_run = {POSTED: 0, FAILED: 0, SKIPPED: 0}

    with verkada.get_client() as client:
        event_type = ensure_event_type(client, warehouse, helix_settings.event_type_name)
        with warehouse.write() as conn:
            pinned = pin_window(conn, start, end, event_type.uid, datetime.now(timezone.utc))
            to_post = postable_events(conn, start, end, helix_settings.max_attempts)
        context.log.info(
            f"{len(to_post)} events to post ({pinned.newly_pinned} newly pinned, "
            f"{pinned.moved_to_free_ms} moved to a free millisecond)"
        )

        def on_batch_done(outcomes: list[PostOutcome]) -> None:
            frame = pd.DataFrame(
                [(o.key, o.status, o.reason) for o in outcomes], columns=["key", "status", "reason"]
            )
            with warehouse.write() as conn:
                record_outcomes(conn, frame, datetime.now(timezone.utc))
            for outcome in outcomes:
                this_run[outcome.status] += 1

        events = [_event(row) for row in to_post.itertuples(index=False)]
        outcomes = client.post_events(events, on_batch_done=on_batch_done, schema=EVENT_SCHEMA) if events else []
        links = 0
        if helix_settings.footage_links:
            links = record_footage_links(client, warehouse, events, outcomes, helix_settings.footage_links_per_run)
        requests, rate_limited = client.requests_made, client.rate_limited

    with warehouse.read() as conn:
        counts = status_counts(conn, start, end)
        schema = column_schema(conn, "helix_events")
        shown = conn.execute(
            "SELECT transaction_id, verkada_camera_id, time_ms, status, reason, attempts "
            "FROM helix_events WHERE sale_hour >= ? AND sale_hour < ? "
            "ORDER BY status <> 'failed', time_ms LIMIT 10",
            [start, end],
        ).df()
    if this_run[FAILED]:
        context.log.warning(
            f"{this_run[FAILED]} events failed this run; helix_retry_sensor will retry them"
        )
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": sum(counts.values()),
            "dagster/column_schema": schema,
            **window_metadata(window.start, window.end),
            **{f"status/{status}": count for status, count in counts.items()},
            "posted_this_run": this_run[POSTED],
            "failed_this_run": this_run[FAILED],
            "skipped_this_run": this_run[SKIPPED],
            "moved_to_free_ms": pinned.moved_to_free_ms,
            "footage_links": links,
            "event_type_uid": event_type.uid,
            "requests": requests,
            "rate_limited_429": rate_limited,
            "duration_s": round(time.monotonic() - started, 3),
            "preview": preview(shown),
        }
    )
