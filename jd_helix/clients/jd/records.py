"""Turning JD's raw JSON records into clean rows, or into a rejection with its reason.

docs/jd-api.md ("What the records really look like") says ids arrive as ints or strings, amounts as
numbers or numeric strings, dates with or without an offset, and that some records are
simply broken. Every parser here either returns a clean value or raises `RecordError`
naming the field, so a bad record is set aside with its reason and never stops the page.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, Literal, overload
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa

MAX_ID_LENGTH = 128
# DECIMAL(18, 2): sixteen digits before the point.
MAX_AMOUNT_CENTS = 10**18 - 1
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MS = timedelta(milliseconds=1)


class RecordError(ValueError):
    """One field of one record cannot be used."""

    def __init__(self, field: str, reason: str):
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def _value(record: dict, field: str, required: bool):
    """The field's value; None only for an optional field that is absent or null."""
    value = record.get(field)
    if value is None and required:
        raise RecordError(field, "missing" if field not in record else "null")
    return value


@overload
def parse_id(record: dict, field: str, required: Literal[True] = True) -> str: ...
@overload
def parse_id(record: dict, field: str, required: bool) -> str | None: ...
def parse_id(record: dict, field: str, required: bool = True) -> str | None:
    """Ids are kept as text: `123` and `"123"` are the same id."""
    value = _value(record, field, required)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise RecordError(field, f"expected an id (integer or text), got {type(value).__name__}")
    text = str(value)
    if not text.strip():
        raise RecordError(field, "empty id")
    if len(text) > MAX_ID_LENGTH:
        raise RecordError(field, f"id longer than {MAX_ID_LENGTH} characters")
    return text


@overload
def parse_amount_cents(record: dict, field: str, required: Literal[True] = True, *, signed: bool = False) -> int: ...
@overload
def parse_amount_cents(record: dict, field: str, required: bool, *, signed: bool = False) -> int | None: ...
def parse_amount_cents(record: dict, field: str, required: bool = True, *, signed: bool = False) -> int | None:
    """Money as exact integer cents: never through a binary float.

    `signed`: a transaction's amount, negative for a refund; zero is neither a sale nor a
    refund and is set aside. Otherwise (a price) the amount is never negative."""
    value = _value(record, field, required)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise RecordError(field, f"expected a number, got {type(value).__name__}")
    if isinstance(value, float) and not math.isfinite(value):
        raise RecordError(field, "not a finite number")
    if isinstance(value, str):
        try:
            amount = Decimal(value.strip())
        except InvalidOperation:
            raise RecordError(field, "not a number") from None
        if not amount.is_finite():
            raise RecordError(field, "not a finite number")
    else:
        # repr() of a float is the shortest text that round-trips: 19.99 -> "19.99".
        amount = Decimal(repr(value) if isinstance(value, float) else value)
    if signed and amount == 0:
        raise RecordError(field, "zero amount (neither a sale nor a refund)")
    if amount < 0 and not signed:
        raise RecordError(field, "negative amount")
    cents = amount * 100
    if cents != cents.to_integral_value():
        raise RecordError(field, "more than 2 decimal places")
    if abs(cents) > MAX_AMOUNT_CENTS:
        raise RecordError(field, "amount too large")
    return int(cents)


def parse_count(record: dict, field: str) -> int | None:
    """A whole number of things (such as a stock quantity), optional."""
    value = record.get(field)
    if value is None:
        return None
    if isinstance(value, bool):
        raise RecordError(field, "expected a whole number, got bool")
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if not isinstance(value, int):
        raise RecordError(field, "expected a whole number")
    if value < 0:
        raise RecordError(field, "negative count")
    if value >= 2**63:
        raise RecordError(field, "number too large")
    return value


def parse_text(record: dict, field: str) -> str | None:
    """Free text (names, addresses). Numbers are accepted and kept as their text."""
    value = record.get(field)
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    raise RecordError(field, f"expected text, got {type(value).__name__}")


def parse_instant_ms(record: dict, field: str, local_zone: ZoneInfo) -> int:
    """An instant in epoch milliseconds (UTC).

    Offset-less values are wall-clock times in the API's zone (JD_API_TIMEZONE); on the
    repeated hour of a daylight-saving change the first occurrence is taken.
    """
    value = _value(record, field, required=True)
    if not isinstance(value, str):
        raise RecordError(field, f"expected a date-time text, got {type(value).__name__}")
    text = value.strip()
    # A bare date would parse as midnight: refuse it rather than invent a time.
    if len(text) < 19:
        raise RecordError(field, "not a date-time (YYYY-MM-DD HH:MM:SS or ISO 8601)")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise RecordError(field, "not a date-time (YYYY-MM-DD HH:MM:SS or ISO 8601)") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=local_zone)
    return (parsed - _EPOCH) // _ONE_MS


@dataclass(frozen=True)
class Rejection:
    """A record set aside: where it came from, the record as received, and why."""

    endpoint: str
    raw: Any
    field: str
    reason: str

    @property
    def key(self) -> str:
        """ "<field>: <reason>": what the records set aside are counted by."""
        return f"{self.field}: {self.reason}"


RowParser = Callable[[dict], dict]


def _parse_store(record: dict) -> dict:
    return {
        "store_id": parse_id(record, "store_id"),
        "store_name": parse_text(record, "store_name"),
        "store_address": parse_text(record, "store_address"),
        "store_phone": parse_text(record, "store_phone"),
        "store_email": parse_text(record, "store_email"),
    }


def _parse_point_of_sale(record: dict) -> dict:
    return {
        "pos_id": parse_id(record, "pos_id"),
        "store_id": parse_id(record, "store_id", required=False),
        "camera_id": parse_id(record, "camera_id", required=False),
        "pos_name": parse_text(record, "pos_name"),
    }


def _parse_camera(record: dict) -> dict:
    return {
        "camera_id": parse_id(record, "camera_id"),
        "camera_name": parse_text(record, "camera_name"),
        "camera_location": parse_text(record, "camera_location"),
        "camera_status": parse_text(record, "camera_status"),
        "camera_model": parse_text(record, "camera_model"),
        "pos_id": parse_id(record, "pos_id", required=False),
    }


def _parse_item(record: dict) -> dict:
    return {
        "item_id": parse_id(record, "item_id"),
        "item_name": parse_text(record, "item_name"),
        "item_price_cents": parse_amount_cents(record, "item_price", required=False),
        "item_quantity": parse_count(record, "item_quantity"),
    }


@dataclass(frozen=True)
class DimensionSpec:
    """How one JD reference endpoint maps to its table."""

    endpoint: str
    key: str
    parse: RowParser


DIMENSIONS = {
    "jd_stores": DimensionSpec("/v1/stores", "store_id", _parse_store),
    "jd_points_of_sale": DimensionSpec("/v1/points-of-sale", "pos_id", _parse_point_of_sale),
    "jd_cameras": DimensionSpec("/v1/cameras", "camera_id", _parse_camera),
    "jd_items": DimensionSpec("/v1/inventory", "item_id", _parse_item),
}


def parse_dimension_records(spec: DimensionSpec, records: list) -> tuple[dict[str, dict], list[Rejection]]:
    """Clean rows keyed by id (the last occurrence of an id wins) and the rejections."""
    rows: dict[str, dict] = {}
    rejected: list[Rejection] = []
    for record in records:
        if not isinstance(record, dict):
            rejected.append(Rejection(spec.endpoint, record, "record", "not a JSON object"))
            continue
        try:
            row = spec.parse(record)
        except RecordError as error:
            rejected.append(Rejection(spec.endpoint, record, error.field, error.reason))
            continue
        rows.pop(row[spec.key], None)  # keep the order of the last occurrence
        rows[row[spec.key]] = row
    return rows, rejected


TRANSACTIONS_ENDPOINT = "/v1/sales"
TRANSACTION_SCHEMA = pa.schema(
    [
        ("seq", pa.int64()),
        ("transaction_id", pa.string()),
        ("time_ms", pa.int64()),
        ("amount_cents", pa.int64()),
        ("item_id", pa.string()),
        ("camera_id", pa.string()),
    ]
)


def parse_transaction_page(
    records: list,
    *,
    first_seq: int,
    window_start_ms: int,
    window_end_ms: int,
    local_zone: ZoneInfo,
) -> tuple[pa.RecordBatch, list[Rejection]]:
    """One page of sales as a compact Arrow batch, plus the records set aside.

    `seq` numbers records in the order received, so that the load can keep the last
    occurrence of a repeated transaction_id. A sale outside the window asked for is set
    aside: it belongs to another hour, and that hour's run will fetch it. A negative amount
    is a refund, kept like a sale; a zero amount is set aside.

    A plain page (every record an object, every id an integer, every date text and every
    amount a number or text, all of which parse and fall in the window: a clean API's every
    page) converts a column at a time, each distinct date text and amount parsed once and
    the ids cast by Arrow; any other page goes one record at a time, to the same result.
    """
    batch = _plain_page(records, first_seq, window_start_ms, window_end_ms, local_zone)
    if batch is not None:
        return batch, []
    seqs: list[int] = []
    ids: list[str] = []
    times: list[int] = []
    cents: list[int] = []
    items: list[str] = []
    cameras: list[str] = []
    rejected: list[Rejection] = []
    # A busy page repeats each second's date text and each item's price many times:
    # parse each distinct value once. Only successful parses are remembered.
    instants: dict[Any, int] = {}  # by the raw value; only text gets here
    amounts: dict[tuple[type, Any], int] = {}
    for offset, record in enumerate(records):
        if not isinstance(record, dict):
            rejected.append(Rejection(TRANSACTIONS_ENDPOINT, record, "record", "not a JSON object"))
            continue
        try:
            transaction_id = _fast_id(record, "transaction_id")
            text = record.get("transaction_date")
            time_ms = instants.get(text) if type(text) is str else None
            if time_ms is None:
                time_ms = parse_instant_ms(record, "transaction_date", local_zone)
                instants[text] = time_ms
            value = record.get("transaction_amount")
            kind = type(value)
            amount_cents = amounts.get((kind, value)) if kind in _AMOUNT_KINDS else None
            if amount_cents is None:
                amount_cents = parse_amount_cents(record, "transaction_amount", signed=True)
                amounts[(kind, value)] = amount_cents
            item_id = _fast_id(record, "item_id")
            camera_id = _fast_id(record, "camera_id")
            if not window_start_ms <= time_ms < window_end_ms:
                raise RecordError("transaction_date", "outside the requested window")
        except RecordError as error:
            rejected.append(Rejection(TRANSACTIONS_ENDPOINT, record, error.field, error.reason))
            continue
        seqs.append(first_seq + offset)
        ids.append(transaction_id)
        times.append(time_ms)
        cents.append(amount_cents)
        items.append(item_id)
        cameras.append(camera_id)
    batch = pa.RecordBatch.from_arrays(
        [
            pa.array(seqs, pa.int64()),
            pa.array(ids, pa.string()),
            pa.array(times, pa.int64()),
            pa.array(cents, pa.int64()),
            pa.array(items, pa.string()),
            pa.array(cameras, pa.string()),
        ],
        schema=TRANSACTION_SCHEMA,
    )
    return batch, rejected


_AMOUNT_KINDS = (float, int, str)


def _fast_id(record: dict, field: str) -> str:
    """parse_id, with a shortcut for the common case of a plain integer id."""
    value = record.get(field)
    if type(value) is int:
        text = str(value)
        if len(text) <= MAX_ID_LENGTH:
            return text
    return parse_id(record, field)


_ID_FIELDS = ("transaction_id", "item_id", "camera_id")


def _plain_page(
    records: list, first_seq: int, window_start_ms: int, window_end_ms: int, local_zone: ZoneInfo
) -> pa.RecordBatch | None:
    """The page as a batch if it is plain (see parse_transaction_page), else None."""
    if set(map(type, records)) != {dict}:
        return None
    ids = {}
    for field in _ID_FIELDS:  # field by field, so that an odd page is given up early
        ids[field] = [record.get(field) for record in records]
        if set(map(type, ids[field])) != {int}:
            return None
    dates = [record.get("transaction_date") for record in records]
    amounts = [record.get("transaction_amount") for record in records]
    if set(map(type, dates)) != {str} or not set(map(type, amounts)) <= set(_AMOUNT_KINDS):
        return None
    try:
        instants = {text: parse_instant_ms({"d": text}, "d", local_zone) for text in set(dates)}
        # Equal numbers are equal amounts (5 and 5.0), so a value is a key whatever its kind.
        cents = {value: parse_amount_cents({"a": value}, "a", signed=True) for value in set(amounts)}
        id_texts = {field: pa.array(values, pa.int64()).cast(pa.string()) for field, values in ids.items()}
    except (RecordError, OverflowError):  # a bad value, or an id beyond 64 bits: one by one
        return None
    if not all(window_start_ms <= time_ms < window_end_ms for time_ms in instants.values()):
        return None
    return pa.RecordBatch.from_arrays(
        [
            pa.array(np.arange(first_seq, first_seq + len(records), dtype=np.int64)),
            id_texts["transaction_id"],
            pa.array([instants[text] for text in dates], pa.int64()),
            pa.array([cents[value] for value in amounts], pa.int64()),
            id_texts["item_id"],
            id_texts["camera_id"],
        ],
        schema=TRANSACTION_SCHEMA,
    )
