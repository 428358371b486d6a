"""Record validity rules of the JD API, as the sandbox's ground truth applies them.

Written again here on purpose, apart from the pipeline's own JD record parser (the one
that raises `RecordError`) and sharing no code with it: the truth the tests compare the
pipeline against is an independent reading of the JD spec, so a bug in the pipeline's
parser cannot hide by agreeing with itself. Keep the two apart; when the spec changes,
change both.

A record is valid when every required field is present and non-null, and every field
that is present (required or optional) is of the right kind:
- id:     an int (not bool) or a non-empty string; normalised to str
- amount: a number (not bool) or a numeric string; finite, >= 0, at most 2 decimal places;
          normalised to Decimal
- signed amount (a sale's): the same, but negative for a refund, and never zero
- date:   "YYYY-MM-DD HH:MM:SS" (in the API's zone) or ISO 8601 with an offset or Z;
          normalised to an aware UTC datetime
- text:   a string, or a number (kept as its text: a phone number may arrive as one)
- count:  an int (not bool) or an integer string, >= 0; normalised to int
Unknown extra fields are ignored. The first offending field (in the order below) is named.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

REQUIRED_FIELDS: dict[str, dict[str, str]] = {
    "sales": {
        "transaction_id": "id",
        "transaction_date": "date",
        "transaction_amount": "signed_amount",
        "item_id": "id",
        "camera_id": "id",
    },
    "stores": {"store_id": "id"},
    "points-of-sale": {"pos_id": "id"},
    "cameras": {"camera_id": "id"},
    "inventory": {"item_id": "id"},
}
# Fields a reference record can do without (a store with no phone is still a store), but
# that must be of the right kind when they are there.
OPTIONAL_FIELDS: dict[str, dict[str, str]] = {
    "sales": {},
    "stores": {"store_name": "text", "store_address": "text", "store_phone": "text", "store_email": "text"},
    "points-of-sale": {"store_id": "id", "camera_id": "id", "pos_name": "text"},
    "cameras": {
        "camera_name": "text",
        "camera_location": "text",
        "camera_status": "text",
        "camera_model": "text",
        "pos_id": "id",
    },
    "inventory": {"item_name": "text", "item_price": "amount", "item_quantity": "count"},
}
ID_FIELD = {
    "sales": "transaction_id",
    "stores": "store_id",
    "points-of-sale": "pos_id",
    "cameras": "camera_id",
    "inventory": "item_id",
}

_LOCAL_RE = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")
_TWO_DP = Decimal("0.01")


class Invalid(Exception):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def norm_id(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise Invalid(f"id must be an integer or a string, got {type(value).__name__}")
    text = str(value)
    if not text.strip():
        raise Invalid("id is an empty string")
    return text


def norm_signed_amount(value: Any) -> Decimal:
    """A sale's amount: a refund's is negative; 0 is neither a sale nor a refund."""
    amount = norm_amount(abs_text(value))
    if amount == 0:
        raise Invalid("zero amount")
    return -amount if _is_negative(value) else amount


def abs_text(value: Any) -> Any:
    """The value without its minus sign, of the same kind (so that norm_amount's checks apply)."""
    if isinstance(value, str) and value.strip().startswith("-"):
        return value.strip()[1:]
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value < 0:
        return -value
    return value


def _is_negative(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().startswith("-")
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value < 0


def norm_amount(value: Any) -> Decimal:
    if isinstance(value, bool):
        raise Invalid("amount must be a number, got bool")
    if isinstance(value, int):
        amount = Decimal(value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise Invalid("amount is not finite")
        amount = Decimal(repr(value))
    elif isinstance(value, str):
        try:
            amount = Decimal(value.strip())
        except InvalidOperation:
            raise Invalid(f"amount is not numeric: {value[:40]!r}") from None
    else:
        raise Invalid(f"amount must be a number or a numeric string, got {type(value).__name__}")
    if not amount.is_finite():
        raise Invalid("amount is not finite")
    if amount < 0:
        raise Invalid("negative amount")
    if amount != amount.quantize(_TWO_DP):
        raise Invalid("amount has more than 2 decimal places")
    return amount.quantize(_TWO_DP)


def norm_count(value: Any) -> int:
    if isinstance(value, bool):
        raise Invalid("count must be an integer, got bool")
    if isinstance(value, int):
        count = value
    elif isinstance(value, str) and value.strip().isdigit():
        count = int(value)
    else:
        raise Invalid(f"count must be an integer, got {type(value).__name__}")
    if count < 0:
        raise Invalid("negative count")
    return count


def norm_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    raise Invalid(f"text must be a string, got {type(value).__name__}")


def norm_date(value: Any, zone: ZoneInfo | timezone) -> datetime:
    if not isinstance(value, str):
        raise Invalid(f"date must be a string, got {type(value).__name__}")
    if _LOCAL_RE.match(value):
        try:
            local = datetime.strptime(value, "%Y-%m-%d %H:%M:%S")
        except ValueError:
            raise Invalid(f"unparsable date {value!r}") from None
        return local.replace(tzinfo=zone).astimezone(UTC)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise Invalid(f"unparsable date {value[:40]!r}") from None
    if parsed.tzinfo is None or "T" not in value:
        raise Invalid(f"date is neither 'YYYY-MM-DD HH:MM:SS' nor ISO 8601 with an offset: {value[:40]!r}")
    return parsed.astimezone(UTC)


_NORMALISERS = {
    "id": norm_id,
    "amount": norm_amount,
    "signed_amount": norm_signed_amount,
    "count": norm_count,
    "text": norm_text,
}


def zone(name: str) -> ZoneInfo | timezone:
    return UTC if name.upper() == "UTC" else ZoneInfo(name)


def validate(endpoint: str, record: Any, zone: ZoneInfo | timezone) -> dict[str, Any]:
    """Normalised fields of a valid record; raises FieldError for an invalid one."""
    if not isinstance(record, dict):
        raise FieldError("record", "record is not a JSON object")
    normalised: dict[str, Any] = {}
    for name, kind in REQUIRED_FIELDS[endpoint].items():
        if name not in record:
            raise FieldError(name, "missing required field")
        value = record[name]
        if value is None:
            raise FieldError(name, "required field is null")
        try:
            normalised[name] = norm_date(value, zone) if kind == "date" else _NORMALISERS[kind](value)
        except Invalid as e:
            raise FieldError(name, e.reason) from None
    for name, kind in OPTIONAL_FIELDS[endpoint].items():
        if record.get(name) is None:
            continue
        try:
            normalised[name] = _NORMALISERS[kind](record[name])
        except Invalid as e:
            raise FieldError(name, e.reason) from None
    return normalised


class FieldError(Exception):
    def __init__(self, field: str, reason: str):
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason
