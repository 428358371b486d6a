"""Instants as the warehouse and Helix want them.

DuckDB TIMESTAMP columns hold UTC without a zone; Helix and the JD API speak epoch
milliseconds.
"""

from datetime import UTC, datetime


def naive_utc(instant: datetime) -> datetime:
    """``instant`` in UTC without its zone, as DuckDB TIMESTAMP columns hold it."""
    return instant.astimezone(UTC).replace(tzinfo=None)


def epoch_ms(instant: datetime) -> int:
    """Milliseconds since the Unix epoch (``instant`` must be zone-aware)."""
    return int(instant.timestamp() * 1000)
