"""Reading a JD request's query: instants, page limits and cursors, and the 400 they raise."""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime, tzinfo

import orjson

DEFAULT_LIMIT = 500
MAX_LIMIT = 1000
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class BadRequest(Exception):
    """The request cannot be served as asked (answered 400 with this message)."""


def to_epoch_us(dt: datetime) -> int:
    since_epoch = dt - EPOCH
    return (since_epoch.days * 86400 + since_epoch.seconds) * 1_000_000 + since_epoch.microseconds


def parse_instant(value: str, zone: tzinfo) -> int:
    """Epoch microseconds of an ISO 8601 instant (offset-less means the API's zone)."""
    try:
        text = value.strip()
        dt = datetime.fromisoformat(text.replace(" ", "T", 1) if " " in text else text)
    except (ValueError, AttributeError):
        raise BadRequest(f"unparsable instant {value!r}: use ISO 8601, e.g. 2024-03-02T10:00:00Z") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=zone)
    return to_epoch_us(dt)


def page_limit(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_LIMIT
    try:
        limit = int(raw)
    except ValueError:
        raise BadRequest("limit must be an integer between 1 and 1000") from None
    if not 1 <= limit <= MAX_LIMIT:
        raise BadRequest("limit must be an integer between 1 and 1000")
    return limit


def encode_cursor(position: list) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(position)).decode().rstrip("=")


def decode_cursor(cursor: str) -> list:
    try:
        position = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, orjson.JSONDecodeError):
        raise BadRequest("invalid cursor") from None
    if not isinstance(position, list):
        raise BadRequest("invalid cursor")
    return position
