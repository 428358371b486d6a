"""The hourly partitions every sales asset shares: UTC hours from JD_HELIX_START on."""

import os
from datetime import datetime, timezone

import dagster as dg

DEFAULT_START = "2026-01-01-00:00"
PARTITION_KEY_FORMAT = "%Y-%m-%d-%H:%M"

hourly_partitions = dg.HourlyPartitionsDefinition(
    start_date=os.environ.get("JD_HELIX_START") or DEFAULT_START,
    timezone="UTC",
)

# One run may cover up to a week of hours: a backfill of a month is then a handful of runs,
# each fetching its hours concurrently and writing DuckDB in a few short transactions.
hourly_backfill_policy = dg.BackfillPolicy.multi_run(max_partitions_per_run=168)


def partition_start(partition_key: str) -> datetime:
    """The UTC instant an hourly partition key stands for."""
    return datetime.strptime(partition_key, PARTITION_KEY_FORMAT).replace(tzinfo=timezone.utc)


def partition_key(hour_start: datetime) -> str:
    return hour_start.astimezone(timezone.utc).strftime(PARTITION_KEY_FORMAT)
