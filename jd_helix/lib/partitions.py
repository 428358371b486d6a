"""The hourly partitions every sales asset shares: UTC hours from a first hour on.

The first hour is JD_HELIX_START when set (a fixed `YYYY-MM-DD-HH:MM`, to keep older
history). Otherwise the partitions reach JD_HELIX_HISTORY_DAYS (default 2) days back from
the start of the current UTC day, so a new deployment shows the hours it can work on, not
months of "missing" hours that Helix (which refuses anything older than 30 days) would
never take. The start moves at most once a day, when the code location loads.
"""

import os
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

import dagster as dg

# Dagster reads a run's partition (or range of them) from these tags but exports no public
# name for them; this is the one place that imports them.
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)
from dagster._core.storage.tags import (
    PARTITION_NAME_TAG as PARTITION_NAME_TAG,  # re-exported for the run-failure alerts
)

from jd_helix.lib.run_tags import HOURS_TAG

DEFAULT_HISTORY_DAYS = 2
PARTITION_KEY_FORMAT = "%Y-%m-%d-%H:%M"
# The last complete hour is due in Helix by this minute past the next hour.
DEADLINE_MINUTE = 45


def partition_key(hour_start: datetime) -> str:
    return hour_start.astimezone(UTC).strftime(PARTITION_KEY_FORMAT)


def first_hour(environ=os.environ, now: datetime | None = None) -> str:
    """The first hourly partition key (see the module docstring)."""
    if environ.get("JD_HELIX_START"):
        return environ["JD_HELIX_START"]
    days = int(environ.get("JD_HELIX_HISTORY_DAYS") or DEFAULT_HISTORY_DAYS)
    today = (now or datetime.now(UTC)).astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return partition_key(today - timedelta(days=days))


hourly_partitions = dg.HourlyPartitionsDefinition(start_date=first_hour(), timezone="UTC")

# One run may cover up to a week of hours: a backfill of a month is then a handful of runs,
# each fetching its hours concurrently and writing DuckDB in a few short transactions.
hourly_backfill_policy = dg.BackfillPolicy.multi_run(max_partitions_per_run=168)


def partition_range_tags(first: str, last: str) -> dict[str, str]:
    """Run tags that make one run cover the hours ``first`` to ``last`` (keys, both included),
    and say so in the run list."""
    range_tags = {ASSET_PARTITION_RANGE_START_TAG: first, ASSET_PARTITION_RANGE_END_TAG: last}
    count = len(run_hour_keys(range_tags))
    return {**range_tags, HOURS_TAG: f"{first} .. {last} ({count} hour{'s' if count != 1 else ''})"}


def run_hour_keys(tags: Mapping[str, str]) -> list[str]:
    """The hour keys a run covers, from its tags (one partition or a range); [] for an unpartitioned run."""
    if PARTITION_NAME_TAG in tags:
        return [tags[PARTITION_NAME_TAG]]
    first, last = tags.get(ASSET_PARTITION_RANGE_START_TAG), tags.get(ASSET_PARTITION_RANGE_END_TAG)
    if not first or not last:
        return []
    hour = datetime.strptime(first, PARTITION_KEY_FORMAT).replace(tzinfo=UTC)
    end = datetime.strptime(last, PARTITION_KEY_FORMAT).replace(tzinfo=UTC)
    keys = []
    while hour <= end:
        keys.append(partition_key(hour))
        hour += timedelta(hours=1)
    return keys
