"""Reading the query parameters every report shares: UTC instants, page sizes, filters.

Instants are ISO 8601 with `Z` or an offset (converted to UTC), or a bare date (its
midnight UTC). A time without a zone is refused rather than guessed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import overload

from jd_helix.api.errors import bad_parameter

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
# Widest instants DuckDB TIMESTAMP and Python both hold, used for an open end of a range.
EARLIEST = datetime(1, 1, 2)
LATEST = datetime(9999, 12, 30)


# A '+' left unencoded in a query string arrives as a space: "...T10:00:00 01:00".
_PLUS_SENT_AS_SPACE = re.compile(r"\d \d{2}:?\d{2}$")


def parse_instant(name: str, text: str) -> datetime:
    """A naive UTC datetime (as the warehouse stores instants) from the client's text."""
    text = text.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime(day.year, day.month, day.day)
        parsed = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        hint = " (send the '+' of an offset as %2B)" if _PLUS_SENT_AS_SPACE.search(text) else ""
        raise bad_parameter(
            name, f"{text!r} is not an ISO 8601 date or instant, e.g. 2026-11-28T09:00:00Z{hint}"
        ) from None
    if parsed.tzinfo is None:
        raise bad_parameter(name, f"{text!r} has no zone: add Z for UTC (or an offset such as +01:00)")
    try:
        utc = parsed.astimezone(UTC).replace(tzinfo=None)
    except OverflowError:
        raise bad_parameter(name, f"{text!r} is out of range") from None
    if not EARLIEST <= utc <= LATEST:
        raise bad_parameter(name, f"{text!r} is out of range")
    return utc


@dataclass(frozen=True)
class Window:
    """[start, end) in naive UTC; open ends are the widest instants."""

    start: datetime
    end: datetime

    @classmethod
    def parse(cls, start: str | None, end: str | None) -> Window:
        window = cls(
            parse_instant("start", start) if start is not None else EARLIEST,
            parse_instant("end", end) if end is not None else LATEST,
        )
        if window.start >= window.end:
            raise bad_parameter("end", "must be later than start")
        return window

    def fingerprint(self) -> list[str]:
        return [self.start.isoformat(), self.end.isoformat()]


@overload
def format_instant(instant: datetime) -> str: ...
@overload
def format_instant(instant: None) -> None: ...
def format_instant(instant: datetime | None) -> str | None:
    """A stored (naive UTC) or aware instant as ISO 8601 with milliseconds and Z."""
    if instant is None:
        return None
    if instant.tzinfo is not None:
        instant = instant.astimezone(UTC).replace(tzinfo=None)
    return instant.isoformat(timespec="milliseconds") + "Z"
