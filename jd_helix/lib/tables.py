"""What each DuckDB table holds, column by column, for the asset pages (definition time).

`table_metadata(name)` is the definition-time metadata of the asset that owns the table:
its DuckDB table name and its columns with types and descriptions, so the UI shows them
before anything has run. A test compares these columns with the real tables.
"""

from __future__ import annotations

from typing import Any

import dagster as dg

# Shared column meanings, so one fact is described once.
_SALE_HOUR = ("sale_hour", "TIMESTAMP", "the UTC hour the sale belongs to (its partition)")
_TRANSACTION_ID = ("transaction_id", "VARCHAR", "JD's id of the sale")
_TRANSACTION_AT = ("transaction_at", "TIMESTAMP", "when the sale happened, UTC")
_TIME_MS = ("time_ms", "BIGINT", "the same instant in epoch milliseconds (what Helix takes)")
_AMOUNT = ("transaction_amount", "DECIMAL(18,2)", "the sale's amount, exact")
_LOADED_AT = ("loaded_at", "TIMESTAMP", "when this row was written, UTC")
_BUILT_AT = ("built_at", "TIMESTAMP", "when this row was built, UTC")

COLUMNS: dict[str, list[tuple[str, str, str]]] = {
    "jd_stores": [
        ("store_id", "VARCHAR", "JD's store id"),
        ("store_name", "VARCHAR", "the store's name"),
        ("store_address", "VARCHAR", "postal address"),
        ("store_phone", "VARCHAR", "phone number"),
        ("store_email", "VARCHAR", "e-mail address"),
        _LOADED_AT,
    ],
    "jd_points_of_sale": [
        ("pos_id", "VARCHAR", "JD's id of the till"),
        ("camera_id", "VARCHAR", "the JD camera over the till"),
        ("pos_name", "VARCHAR", "the till's name"),
        ("store_id", "VARCHAR", "the store the till is in"),
        _LOADED_AT,
    ],
    "jd_cameras": [
        ("camera_id", "VARCHAR", "JD's camera id (sometimes already a Verkada camera id)"),
        ("camera_name", "VARCHAR", "the name a Verkada camera must carry to be matched"),
        ("camera_location", "VARCHAR", "where the camera hangs"),
        ("camera_status", "VARCHAR", "JD's status of the camera"),
        ("camera_model", "VARCHAR", "camera model"),
        ("pos_id", "VARCHAR", "the till it watches"),
        _LOADED_AT,
    ],
    "jd_items": [
        ("item_id", "VARCHAR", "JD's item id"),
        ("item_name", "VARCHAR", "the item's name"),
        ("item_price", "DECIMAL(18,2)", "list price, exact"),
        ("item_quantity", "BIGINT", "quantity in stock"),
        _LOADED_AT,
    ],
    "verkada_cameras": [
        ("camera_id", "VARCHAR", "Verkada's camera id (what Helix events are posted to)"),
        ("name", "VARCHAR", "the camera's name in Command"),
        ("site", "VARCHAR", "the Command site"),
        ("site_id", "VARCHAR", "the Command site's id"),
        ("model", "VARCHAR", "camera model"),
        ("serial", "VARCHAR", "serial number"),
        ("status", "VARCHAR", "Verkada's status of the camera"),
        _LOADED_AT,
    ],
    "jd_rejected_records": [
        ("endpoint", "VARCHAR", "the JD endpoint the record came from"),
        ("scope", "VARCHAR", "the hour (partition key) it was fetched for, or 'refresh'"),
        ("field", "VARCHAR", "the field that made it unusable"),
        ("reason", "VARCHAR", "why it was set aside"),
        ("raw", "JSON", "the record exactly as received"),
        ("rejected_at", "TIMESTAMP", "when it was set aside, UTC"),
    ],
    "jd_transactions": [
        _SALE_HOUR,
        _TRANSACTION_ID,
        _TRANSACTION_AT,
        _TIME_MS,
        _AMOUNT,
        ("item_id", "VARCHAR", "the item sold"),
        ("camera_id", "VARCHAR", "the JD camera over the till"),
        _LOADED_AT,
    ],
    "transaction_camera_events": [
        _SALE_HOUR,
        _TRANSACTION_ID,
        _TRANSACTION_AT,
        _TIME_MS,
        _AMOUNT,
        ("item_id", "VARCHAR", "the item sold"),
        ("item_name", "VARCHAR", "its name (null if the item is unknown)"),
        ("jd_camera_id", "VARCHAR", "the JD camera over the till"),
        ("jd_camera_name", "VARCHAR", "its name in JD"),
        ("verkada_camera_id", "VARCHAR", "the Verkada camera the event goes to; null when none is known"),
        ("mapped_by", "VARCHAR", "'name' or 'id': how the Verkada camera was found"),
        ("unmapped_reason", "VARCHAR", "why no Verkada camera was found (null when mapped)"),
        ("pos_id", "VARCHAR", "the till"),
        ("pos_name", "VARCHAR", "the till's name"),
        ("store_id", "VARCHAR", "the store"),
        ("store_name", "VARCHAR", "the store's name"),
        _BUILT_AT,
    ],
    "helix_event_type": [
        ("event_type_uid", "VARCHAR", "Helix's id of the event type"),
        ("name", "VARCHAR", "its name (JD_HELIX_EVENT_TYPE)"),
        ("event_schema", "JSON", "the attribute schema Helix holds"),
        ("action", "VARCHAR", "what the last check did: found, created or updated"),
        ("checked_at", "TIMESTAMP", "when it was last checked, UTC"),
    ],
    "helix_events": [
        _TRANSACTION_ID,
        _SALE_HOUR,
        ("verkada_camera_id", "VARCHAR", "the camera of the Helix triple"),
        (
            "event_type_uid",
            "VARCHAR",
            "the event type: with transaction_id, the row's key; the event type of the Helix triple",
        ),
        ("time_ms", "BIGINT", "the pinned millisecond of the Helix triple (never changes once pinned)"),
        ("status", "VARCHAR", "posted, failed, skipped, unmapped or pending"),
        ("reason", "VARCHAR", "why it failed, was skipped or is unmapped"),
        ("attempts", "INTEGER", "posts tried so far"),
        ("pinned_at", "TIMESTAMP", "when the triple was pinned, UTC"),
        ("last_attempt_at", "TIMESTAMP", "the last post attempt, UTC"),
        ("posted_at", "TIMESTAMP", "when Helix accepted it, UTC"),
        ("footage_url", "VARCHAR", "a Command link to the video at the sale (with helix_settings.footage_links on)"),
    ],
    "transaction_exceptions": [
        _SALE_HOUR,
        _TRANSACTION_ID,
        _TRANSACTION_AT,
        ("transaction_amount", "DECIMAL(18,2)", "the amount, exact; negative for a refund"),
        ("item_id", "VARCHAR", "the item"),
        ("store_id", "VARCHAR", "the store"),
        ("store_name", "VARCHAR", "the store's name"),
        ("pos_id", "VARCHAR", "the till"),
        ("pos_name", "VARCHAR", "the till's name"),
        ("refund", "BOOLEAN", "a refund (negative amount)"),
        ("high_value", "BOOLEAN", "a sale far above the store's recent norm, or above the absolute amount"),
        ("price_override", "BOOLEAN", "the amount differs from the item's list price by more than the set share"),
        ("after_hours", "BOOLEAN", "at an hour of the day the store is normally quiet"),
        ("repeat_refunds", "BOOLEAN", "one of several refunds on its till within a few minutes"),
        ("exceptions", "VARCHAR", "the rules that fired, comma-separated"),
        _BUILT_AT,
    ],
    "store_sales": [
        _SALE_HOUR,
        ("store_id", "VARCHAR", "the store"),
        ("store_name", "VARCHAR", "the store's name"),
        ("transactions", "BIGINT", "sales in the hour"),
        ("sales_total", "DECIMAL(18,2)", "their total amount"),
        ("events_posted", "BIGINT", "of those, posted to Helix"),
        _BUILT_AT,
    ],
}


def table_schema(table: str) -> dg.TableSchema:
    return dg.TableSchema(
        columns=[dg.TableColumn(name, kind, description) for name, kind, description in COLUMNS[table]]
    )


def table_metadata(table: str) -> dict[str, Any]:
    """Definition-time metadata of the asset that writes `table`."""
    return {"dagster/table_name": f"jd_helix.main.{table}", "dagster/column_schema": table_schema(table)}
