"""`helix_audit`: each hour read back from Helix and compared with the ledger (reconcile.py).

An asset, hourly like `helix_events` and downstream of it, rather than an op job: each
audited hour is then a materialization of its own, whose figures (held, missing,
reposted, adopted, unknown) show on the hour's page and plot over hours, and the
`helix_holds_ledger` check sits beside them, hour by hour, where the other checks are.
"""

import time
from dataclasses import replace
from datetime import UTC, datetime

import dagster as dg
import orjson
import pandas as pd

from jd_helix.clients.verkada.client import VerkadaClient
from jd_helix.clients.verkada.events import PostOutcome
from jd_helix.defs.audit.readback import events_held
from jd_helix.defs.audit.reconcile import event_types_to_audit, reconcile, search_range
from jd_helix.defs.audit.state import TABLE_METADATA, HourAudit
from jd_helix.defs.helix.assets import helix_events
from jd_helix.defs.helix.destination import check_destination
from jd_helix.defs.helix.ledger import record_outcomes
from jd_helix.defs.hourly_sales.events_posted import recount_events_posted
from jd_helix.domain.helix_status import HelixStatus
from jd_helix.domain.time_utils import naive_utc
from jd_helix.lib.asset_defaults import HELIX_AUDIT_POOL, hourly_asset
from jd_helix.lib.failures import explained_failures
from jd_helix.lib.hourly_table import HOUR, HourWindow, hourly_result
from jd_helix.resources.helix_settings import EVENT_SCHEMA
from jd_helix.resources.verkada import VerkadaResource
from jd_helix.resources.warehouse import WarehouseResource


def _now() -> datetime:
    return naive_utc(datetime.now(UTC))


def audit_hour(client: VerkadaClient, warehouse: WarehouseResource, hour: datetime, event_type_uid: str) -> HourAudit:
    """Audit one hour of one event type: read Helix, adopt, re-post each missing event once,
    and (only when something was re-posted) read the hour again to see what is still missing."""
    requests_before = client.requests_made
    snapshot_at = _now()  # before reading Helix: rows posted later are the next audit's
    with warehouse.read() as conn:
        start_ms, end_ms = search_range(conn, hour, hour + HOUR, event_type_uid)
    held = events_held(client, event_type_uid, start_ms, end_ms)  # no connection held meanwhile
    with warehouse.write() as conn:
        audit, missing = reconcile(conn, held, hour, hour + HOUR, event_type_uid, snapshot_at)
        if audit.adopted:  # rows now posted: the hour's store figures with them
            recount_events_posted(conn, hour, hour + HOUR)
        schema = _schema_of(conn, event_type_uid)
    if missing:
        # Each event with the attributes of its own type (a declared type may carry fewer).
        missing = [replace(e, attributes={k: v for k, v in e.attributes.items() if k in schema}) for e in missing]
        outcomes = client.post_events(missing, schema=schema)
        audit.reposted = sum(outcome.status == HelixStatus.POSTED for outcome in outcomes)
        _record(warehouse, outcomes, event_type_uid, hour)
        again = events_held(client, event_type_uid, start_ms, end_ms)
        now_held = set(
            zip(
                again["camera_id"].to_pylist(),
                again["time_ms"].to_pylist(),
                again["transaction_id"].to_pylist(),
                strict=True,
            )
        )
        audit.still_missing = sum((e.camera_id, e.time_ms, e.key) not in now_held for e in missing)
    audit.requests = client.requests_made - requests_before
    with warehouse.write() as conn:
        conn.execute("DELETE FROM helix_audit WHERE sale_hour = ? AND event_type_uid = ?", [hour, event_type_uid])
        conn.execute(
            "INSERT INTO helix_audit VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                hour,
                event_type_uid,
                _now(),
                audit.held,
                audit.missing,
                audit.reposted,
                audit.adopted,
                audit.unknown,
                audit.still_missing,
                audit.requests,
            ],
        )
    return audit


def _schema_of(conn, event_type_uid: str) -> dict[str, str]:
    """The event type's schema as helix_event_type recorded it when ensured (else every attribute)."""
    row = conn.execute(
        "SELECT event_schema FROM helix_event_type WHERE event_type_uid = ?", [event_type_uid]
    ).fetchone()
    return orjson.loads(row[0]) if row else dict(EVENT_SCHEMA)


def _record(warehouse: WarehouseResource, outcomes: list[PostOutcome], event_type_uid: str, hour: datetime) -> None:
    """The re-posts' outcomes in the ledger, as helix_events records its own: a failed one is
    then retried by helix_retry_sensor with the same triple (and its run rebuilds store_sales).
    A failed one is no longer posted: the hour's store figures lose it in the same transaction."""
    frame = pd.DataFrame([(o.key, o.status, o.reason) for o in outcomes], columns=["key", "status", "reason"])
    with warehouse.write() as conn:
        record_outcomes(conn, frame, datetime.now(UTC), event_type_uid)
        recount_events_posted(conn, hour, hour + HOUR)


@hourly_asset(
    group_name="helix",
    deps=[helix_events],
    kinds={"verkada", "duckdb"},
    pool=HELIX_AUDIT_POOL,
    metadata=TABLE_METADATA,
    description=(
        "Each hour read back from Helix (event search) and compared with the ledger: events Helix "
        "lost are re-posted once with their pinned triple, events Helix holds for sales the ledger "
        "forgot are adopted, events of our type nobody here posted are counted as unknown."
    ),
)
@explained_failures
def helix_audit(
    context: dg.AssetExecutionContext, verkada: VerkadaResource, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    started = time.monotonic()
    window = HourWindow.of(context)
    per_hour: dict[datetime, dict[str, object]] = {}
    totals = HourAudit()
    with verkada.get_audit_client() as client:
        with warehouse.read() as conn:  # never audit (and re-post to) another Helix than the ledger's
            check_destination(conn, warehouse.database, client.base_url)
        for hour in window.hours:
            with warehouse.read() as conn:
                types = event_types_to_audit(conn, hour, hour + HOUR)
            hour_audit = HourAudit()
            for event_type_uid in types:
                hour_audit.add(audit_hour(client, warehouse, hour, event_type_uid))
            totals.add(hour_audit)
            per_hour[hour] = {**hour_audit.figures(), "audited_at": _now().isoformat(timespec="seconds") + "Z"}
            if hour_audit.missing or hour_audit.adopted or hour_audit.unknown:
                context.log.warning(f"{hour:%Y-%m-%d %H}:00 UTC: {hour_audit.figures()}")
        rate_limited = client.rate_limited
    context.log.info(f"Audited {len(window.hours)} hours: {totals.figures()}")
    return hourly_result(
        context,
        window,
        per_hour,
        run_wide={
            "requests": totals.requests,
            "rate_limited_429": rate_limited,
            "duration_s": round(time.monotonic() - started, 3),
        },
    )
