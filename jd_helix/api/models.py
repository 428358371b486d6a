"""What the API returns, as pydantic models: they are the OpenAPI description too.

Instants are UTC, ISO 8601 with milliseconds and `Z`; money is an exact decimal string
(two decimals), never a float.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Generic, TypeVar

from pydantic import BaseModel, Field

Instant = Annotated[
    str,
    Field(pattern=r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$", examples=["2026-11-28T09:15:02.118Z"]),
]
Money = Annotated[str, Field(pattern=r"^-?\d+\.\d{2}$", examples=["129.99"])]
Item = TypeVar("Item")


class HelixStatus(StrEnum):
    """The ledger's status of a sale, or `not_in_ledger` before its hour reached Helix delivery."""

    POSTED = "posted"
    FAILED = "failed"
    SKIPPED = "skipped"
    UNMAPPED = "unmapped"
    PENDING = "pending"
    NOT_IN_LEDGER = "not_in_ledger"


class Granularity(StrEnum):
    HOUR = "hour"
    DAY = "day"


class Page(BaseModel, Generic[Item]):
    items: list[Item]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")
    as_of: Instant = Field(description="The warehouse's state these rows come from (see /v1/status).")


class HelixDelivery(BaseModel):
    status: HelixStatus
    reason: str | None
    attempts: int
    posted_at: Instant | None
    footage_url: str | None = Field(description="Verkada Command link to the sale's footage, where one was recorded.")


class EventTypeDelivery(HelixDelivery):
    """A sale's delivery as one event type: its ledger row, and the event's key on Helix."""

    event_type: str | None = Field(description="The event type's name (null for a type no longer declared).")
    event_type_uid: str
    is_default: bool = Field(
        description="The default (first declared) event type: the one `helix` shows and store_sales counts."
    )
    verkada_camera_id: str | None = Field(description="With `event_type_uid` and `time_ms`, the event's key on Helix.")
    time_ms: int | None = Field(description="The event's instant in epoch milliseconds; null until one is pinned.")


class Transaction(BaseModel):
    transaction_id: str
    transaction_at: Instant
    transaction_amount: Money
    item_id: str | None
    item_name: str | None
    store_id: str | None
    store_name: str | None
    pos_id: str | None
    pos_name: str | None
    jd_camera_id: str | None
    verkada_camera_id: str | None
    unmapped_reason: str | None
    helix: HelixDelivery = Field(
        description="The sale's delivery as the default (first declared) event type; `not_in_ledger` when that "
        "type has no ledger row for it (its hour has not reached Helix delivery, or that type does not take it)."
    )
    helix_by_type: list[EventTypeDelivery] = Field(
        description="One entry per event type that takes the sale, in declared order (the default first); "
        "empty before its hour reaches Helix delivery. With one event type, the same as `helix`."
    )


class StoreSales(BaseModel):
    store_id: str | None = Field(description="Null for sales whose till is not in JD's reference data.")
    store_name: str | None
    period_start: Instant
    period_end: Instant
    transactions: int
    sales_total: Money
    events_posted: int


class StoreWithSales(BaseModel):
    store_id: str
    store_name: str | None
    store_address: str | None
    store_phone: str | None
    store_email: str | None
    transactions: int
    sales_total: Money


class RejectedRecord(BaseModel):
    record_key: str = Field(description="Stable id of the record within its scope.")
    endpoint: str
    scope: str = Field(description="The hour's partition key, or `refresh` for reference data.")
    hour: Instant | None
    field: str | None
    reason: str | None
    raw: Any = Field(description="The record as JD sent it.")
    rejected_at: Instant


class Refresh(BaseModel):
    interval_s: float
    last_attempt_at: Instant | None
    last_outcome: str | None
    busy_since: Instant | None = Field(description="Set while a run has held the warehouse since this instant.")
    copies: int


class Status(BaseModel):
    as_of: Instant | None = Field(description="The served data is the warehouse as it was at this instant.")
    latest_sales_hour: Instant | None
    refresh: Refresh


class HealthStatus(StrEnum):
    OK = "ok"
    NO_DATA = "no_data"  # no copy of the warehouse yet (none exists, or a run holds it)
    INVALID = "invalid"  # the file is not a DuckDB database
    INCOMPLETE = "incomplete"  # tables the reports read are missing


class Health(BaseModel):
    status: HealthStatus
    as_of: Instant | None
    detail: str | None = Field(default=None, description="Why the status is not ok.")
