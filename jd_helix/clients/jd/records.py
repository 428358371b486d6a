"""Turning JD's raw JSON records into clean rows, or into a rejection with its reason.

docs/jd-api.md ("What the records really look like") says ids arrive as ints or strings, amounts as
numbers or numeric strings, dates with or without an offset, and that some records are
simply broken. Every parser here either returns a clean value or raises `RecordError`
naming the field, so a bad record is set aside with its reason and never stops the page.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any, Callable, Literal, overload
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa

MAX_ID_LENGTH = 128
# DECIMAL(18, 2): sixteen digits before the point.
MAX_AMOUNT_CENTS = 10**18 - 1
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
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
def parse_amount_cents(record: dict, field: str, required: Literal[True] = True) -> int: ...
@overload
def parse_amount_cents(record: dict, field: str, required: bool) -> int | None: ...
def parse_amount_cents(record: dict, field: str, required: bool = True) -> int | None:
    """Money as exact integer cents: never through a binary float."""
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
    if amount < 0:
        raise RecordError(field, "negative amount")
    cents = amount * 100
    if cents != cents.to_integral_value():
        raise RecordError(field, "more than 2 decimal places")
    if cents > MAX_AMOUNT_CENTS:
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
        """"<field>: <reason>": what the records set aside are counted by."""
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


def parse_dimension_records(
    spec: DimensionSpec, records: list
) -> tuple[dict[str, dict], list[Rejection]]:
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
    aside: it belongs to another hour, and that hour's run will fetch it.

    The page is parsed a field at a time, not a record at a time: a column of plain
    integer ids converts in one Arrow cast, and a busy page repeats each second's date text
    and each item's price many times, so each distinct value is parsed once. A record is
    set aside for its first field that fails (id, date, amount, item, camera), and for
    being outside the window only when every field parses.
    """
    errors: dict[int, RecordError] = {}  # offset in the page -> why that record is set aside
    rows = records
    if set(map(type, records)) - {dict}:
        rows = [record if type(record) is dict else {} for record in records]
        for offset, record in enumerate(records):
            if type(record) is not dict:
                errors[offset] = RecordError("record", "not a JSON object")
    ids = _id_column(rows, "transaction_id", errors)
    times = _memoised_column(
        rows, "transaction_date", lambda r: parse_instant_ms(r, "transaction_date", local_zone), (str,), errors
    )
    cents = _memoised_column(
        rows, "transaction_amount", lambda r: parse_amount_cents(r, "transaction_amount"), _AMOUNT_KINDS, errors
    )
    items = _id_column(rows, "item_id", errors)
    cameras = _id_column(rows, "camera_id", errors)
    if times and not window_start_ms <= min(times) <= max(times) < window_end_ms:
        outside = RecordError("transaction_date", "outside the requested window")
        for offset, time_ms in enumerate(times):
            if not window_start_ms <= time_ms < window_end_ms:
                errors.setdefault(offset, outside)  # a failing date's placeholder keeps its own error
    batch = pa.RecordBatch.from_arrays(
        [
            pa.array(np.arange(first_seq, first_seq + len(records), dtype=np.int64)),
            ids,
            pa.array(times, pa.int64()),
            pa.array(cents, pa.int64()),
            items,
            cameras,
        ],
        schema=TRANSACTION_SCHEMA,
    )
    if not errors:
        return batch, []
    batch = batch.filter(pa.array([offset not in errors for offset in range(len(records))]))
    rejected = [
        Rejection(TRANSACTIONS_ENDPOINT, records[offset], error.field, error.reason)
        for offset, error in sorted(errors.items())
    ]
    return batch, rejected


_AMOUNT_KINDS = (float, int, str)


def _id_column(rows: list[dict], field: str, errors: dict[int, RecordError]) -> pa.Array:
    """`parse_id` of every row, as text; a failing row gets a placeholder and its error."""
    values = [row.get(field) for row in rows]
    if set(map(type, values)) == {int}:  # the usual page: one cast, no Python per value
        try:
            return pa.array(values, pa.int64()).cast(pa.string())
        except OverflowError:  # beyond 64 bits: still an id, as text
            pass
    texts: list[str] = []
    for offset, value in enumerate(values):
        if type(value) is str and value.strip() and len(value) <= MAX_ID_LENGTH:
            texts.append(value)
            continue
        try:
            texts.append(parse_id(rows[offset], field))
        except RecordError as error:
            errors.setdefault(offset, error)
            texts.append("")
    return pa.array(texts, pa.string())


def _memoised_column(
    rows: list[dict], field: str, parse: Callable[[dict], int], kinds: tuple[type, ...], errors: dict[int, RecordError]
) -> list[int]:
    """`parse` of every row, each distinct value of a kind in `kinds` parsed once (equal
    values parse alike: 5 and 5.0 are the same amount); a failing row gets 0 and its error."""
    values = [row.get(field) for row in rows]
    parsed: dict[Any, int | RecordError] = {}
    if set(map(type, values)) <= set(kinds):  # every value memoisable: no Python per row
        for value in set(values):
            parsed[value] = _parse_or_error(parse, {field: value})
        column: list[Any] = [parsed[value] for value in values]
        if all(type(result) is int for result in parsed.values()):
            return column
    else:
        column = []
        for offset, value in enumerate(values):
            if type(value) in kinds:
                result = parsed.get(value)
                if result is None:
                    result = parsed[value] = _parse_or_error(parse, {field: value})
            else:  # None (absent or null: the record tells which), or a kind never repeated
                result = _parse_or_error(parse, rows[offset])
            column.append(result)
    for offset, result in enumerate(column):
        if type(result) is RecordError:
            errors.setdefault(offset, result)
            column[offset] = 0
    return column


def _parse_or_error(parse: Callable[[dict], int], record: dict) -> int | RecordError:
    try:
        return parse(record)
    except RecordError as error:
        return error
