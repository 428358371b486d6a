"""What each table an asset shows holds, column by column, for the asset pages (definition time).

The column names, types, nulls and keys come from the migrations (resources/migrated_schema.py
reads them from DuckDB); this file says only what the DDL cannot: which tables the asset pages
show, and what each of their columns means. `table_metadata(name)` is the definition-time
metadata of the asset that owns the table: its DuckDB table name and its columns with types
and descriptions, so the UI shows them before anything has run. A test fails when a
description names no column of its table, or a column of a shown table has none.
"""

from __future__ import annotations

from typing import Any

import dagster as dg

from jd_helix.resources.migrated_schema import migrated_tables

# Shared column meanings, so one fact is described once.
_SALE_HOUR = "the UTC hour the sale belongs to (its partition)"
_TRANSACTION_ID = "JD's id of the sale"
_TRANSACTION_AT = "when the sale happened, UTC"
_TIME_MS = "the same instant in epoch milliseconds (what Helix takes)"
_AMOUNT = "the sale's amount, exact"
_LOADED_AT = "when this row was written, UTC"
_BUILT_AT = "when this row was built, UTC"

# Per table an asset shows, what each of its columns means (any order: the table's is the DDL's).
DESCRIPTIONS: dict[str, dict[str, str]] = {
    "jd_stores": {
        "store_id": "JD's store id",
        "store_name": "the store's name",
        "store_address": "postal address",
        "store_phone": "phone number",
        "store_email": "e-mail address",
        "loaded_at": _LOADED_AT,
    },
    "jd_points_of_sale": {
        "pos_id": "JD's id of the till",
        "camera_id": "the JD camera over the till",
        "pos_name": "the till's name",
        "store_id": "the store the till is in",
        "loaded_at": _LOADED_AT,
    },
    "jd_cameras": {
        "camera_id": "JD's camera id (sometimes already a Verkada camera id)",
        "camera_name": "the name a Verkada camera must carry to be matched",
        "camera_location": "where the camera hangs",
        "camera_status": "JD's status of the camera",
        "camera_model": "camera model",
        "pos_id": "the till it watches",
        "loaded_at": _LOADED_AT,
    },
    "jd_items": {
        "item_id": "JD's item id",
        "item_name": "the item's name",
        "item_price": "list price, exact",
        "item_quantity": "quantity in stock",
        "loaded_at": _LOADED_AT,
    },
    "verkada_cameras": {
        "camera_id": "Verkada's camera id (what Helix events are posted to)",
        "name": "the camera's name in Command",
        "site": "the Command site",
        "site_id": "the Command site's id",
        "model": "camera model",
        "serial": "serial number",
        "status": "Verkada's status of the camera",
        "loaded_at": _LOADED_AT,
    },
    "jd_rejected_records": {
        "endpoint": "the JD endpoint the record came from",
        "scope": "the hour (partition key) it was fetched for, or 'refresh'",
        "field": "the field that made it unusable",
        "reason": "why it was set aside",
        "raw": "the record exactly as received",
        "rejected_at": "when it was set aside, UTC",
    },
    "jd_transactions": {
        "sale_hour": _SALE_HOUR,
        "transaction_id": _TRANSACTION_ID,
        "transaction_at": _TRANSACTION_AT,
        "time_ms": _TIME_MS,
        "transaction_amount": _AMOUNT,
        "item_id": "the item sold",
        "camera_id": "the JD camera over the till",
        "loaded_at": _LOADED_AT,
    },
    "transaction_camera_events": {
        "sale_hour": _SALE_HOUR,
        "transaction_id": _TRANSACTION_ID,
        "transaction_at": _TRANSACTION_AT,
        "time_ms": _TIME_MS,
        "transaction_amount": _AMOUNT,
        "item_id": "the item sold",
        "item_name": "its name (null if the item is unknown)",
        "jd_camera_id": "the JD camera over the till",
        "jd_camera_name": "its name in JD",
        "verkada_camera_id": "the Verkada camera the event goes to; null when none is known",
        "mapped_by": "'name' or 'id': how the Verkada camera was found",
        "unmapped_reason": "why no Verkada camera was found (null when mapped)",
        "pos_id": "the till",
        "pos_name": "the till's name",
        "store_id": "the store",
        "store_name": "the store's name",
        "built_at": _BUILT_AT,
    },
    "helix_event_type": {
        "event_type_uid": "Helix's id of the event type",
        "name": "its name (JD_HELIX_EVENT_TYPE)",
        "event_schema": "the attribute schema Helix holds",
        "action": "what the last check did: found, created or updated",
        "checked_at": "when it was last checked, UTC",
    },
    "helix_events": {
        "transaction_id": _TRANSACTION_ID,
        "sale_hour": _SALE_HOUR,
        "verkada_camera_id": "the camera of the Helix triple",
        "event_type_uid": "the event type: with transaction_id, the row's key; the event type of the Helix triple",
        "time_ms": "the pinned millisecond of the Helix triple (never changes once pinned)",
        "status": "posted, failed, skipped, unmapped or pending",
        "reason": "why it failed, was skipped or is unmapped",
        "attempts": "posts tried so far",
        "pinned_at": "when the triple was pinned, UTC",
        "last_attempt_at": "the last post attempt, UTC",
        "posted_at": "when Helix accepted it, UTC",
        "footage_url": "a Command link to the video at the sale (with helix_settings.footage_links on)",
    },
    "transaction_exceptions": {
        "sale_hour": _SALE_HOUR,
        "transaction_id": _TRANSACTION_ID,
        "transaction_at": _TRANSACTION_AT,
        "transaction_amount": "the amount, exact; negative for a refund",
        "item_id": "the item",
        "store_id": "the store",
        "store_name": "the store's name",
        "pos_id": "the till",
        "pos_name": "the till's name",
        "refund": "a refund (negative amount)",
        "high_value": "a sale far above the store's recent norm, or above the absolute amount",
        "price_override": "the amount differs from the item's list price by more than the set share",
        "after_hours": "at an hour of the day the store is normally quiet",
        "repeat_refunds": "one of several refunds on its till within a few minutes",
        "exceptions": "the rules that fired, comma-separated",
        "built_at": _BUILT_AT,
    },
    "store_sales": {
        "sale_hour": _SALE_HOUR,
        "store_id": "the store",
        "store_name": "the store's name",
        "transactions": "sales in the hour",
        "sales_total": "their total amount",
        "events_posted": "of those, posted to Helix",
        "built_at": _BUILT_AT,
    },
    "helix_audit": {
        "sale_hour": "the UTC hour audited (its partition)",
        "event_type_uid": "the Helix event type audited",
        "audited_at": "when the hour was last audited, UTC",
        "held": "events of the hour's sales Helix held (adopted ones included)",
        "missing": "ledger rows posted whose event Helix did not hold",
        "reposted": "of those, re-posted (same triple) and acknowledged by this audit",
        "adopted": "events Helix held for sales whose ledger row did not say posted; now it does",
        "unknown": "events of the type in the hour that no sale of this warehouse owns (left alone)",
        "still_missing": "of the missing, not in Helix when read again after the re-posts (an error)",
        "requests": "Verkada requests this hour's audit made (searches and re-posts)",
    },
}


def table_schema(table: str) -> dg.TableSchema:
    """`table`'s columns as the migrations leave them, each with its description."""
    described, ddl = DESCRIPTIONS[table], migrated_tables()[table]
    single_key = ddl.primary_key if len(ddl.primary_key) == 1 else ()
    return dg.TableSchema(
        columns=[
            dg.TableColumn(
                column.name,
                column.type,
                described.get(column.name),
                constraints=dg.TableColumnConstraints(nullable=column.nullable, unique=column.name in single_key),
            )
            for column in ddl.columns
        ],
        constraints=dg.TableConstraints(other=[f"primary key ({', '.join(ddl.primary_key)})"])
        if len(ddl.primary_key) > 1
        else None,
    )


def table_metadata(table: str) -> dict[str, Any]:
    """Definition-time metadata of the asset that writes `table`."""
    return {"dagster/table_name": f"jd_helix.main.{table}", "dagster/column_schema": table_schema(table)}
