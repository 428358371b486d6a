"""Which hours the daily sweep audits: the stalest of the last 7 days, as many as its budget pays for.

Auditing an hour costs about one request per 200 events it holds (event search pages),
and more where the last audit found events missing (re-posts, then a second read). At
~100,000 sales an hour the whole week would cost ~84,000 requests, two days of the audit's
share; so the sweep takes hours least recently audited first (never audited before any)
and stops at the first that its budget cannot pay for. At low volume the budget pays for
every hour, every day; at high volume the sweep rotates through the week, a slice a day.

The budget, unless `VerkadaResource.audit_sweep_requests_per_day` states one, is what the
audit's share of the org limit admits in a day, less what the hourly schedule will spend
auditing each hour twice (estimated from the last 24 hours of the ledger).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from jd_helix.clients.verkada.limits import MAX_BATCH_ITEMS, SEARCH_PAGE_SIZE
from jd_helix.clients.verkada.rate_limit import RateLimitSettings

HOUR = timedelta(hours=1)
DAY_MS = 86_400_000
TOKEN_REQUESTS = 1  # each run's client fetches a token first
HOURLY_AUDITS_PER_HOUR = 2  # helix_audit_schedule audits each hour at 2 and at 24 hours back


@dataclass(frozen=True)
class SweepHour:
    """An hour the sweep may audit: its ledger rows, and what its last audit saw (None: never audited)."""

    hour: datetime  # naive UTC
    events: int
    audited_at: datetime | None = None
    last_missing: int = 0


def read_requests(events: int) -> int:
    """Search pages to read an hour of `events` back (an empty hour still costs one)."""
    return max(1, math.ceil(events / SEARCH_PAGE_SIZE))


def estimated_requests(hour: SweepHour) -> int:
    """An hour's audit: one read; where its last audit found events missing, as many re-posted
    (a batch submit and a poll per 1,000) and the hour read a second time."""
    requests = read_requests(hour.events)
    if hour.last_missing:
        requests += 2 * math.ceil(hour.last_missing / MAX_BATCH_ITEMS) + read_requests(hour.events)
    return requests


def stalest_first(hours: list[SweepHour]) -> list[SweepHour]:
    """Never audited first, then least recently audited; the older hour first among equals."""
    return sorted(hours, key=lambda h: (h.audited_at is not None, h.audited_at or datetime.min, h.hour))


def choose_hours(hours: list[SweepHour], budget: int | None) -> list[SweepHour]:
    """The stalest hours whose estimated requests (a token per run included) fit in `budget`
    (None: no budget, every hour). Stops at the first hour that does not fit, so that a costly
    stale hour is not passed over day after day by cheaper, fresher ones."""
    chosen: list[SweepHour] = []
    chosen_hours: set[datetime] = set()
    spent = 0
    for hour in stalest_first(hours):
        # An hour next to none chosen may start a run of its own: count its token (an upper bound).
        joins_a_run = hour.hour - HOUR in chosen_hours or hour.hour + HOUR in chosen_hours
        cost = estimated_requests(hour) + (0 if joins_a_run else TOKEN_REQUESTS)
        if budget is not None and spent + cost > budget:
            break
        spent += cost
        chosen.append(hour)
        chosen_hours.add(hour.hour)
    return chosen


def contiguous_ranges(hours: list[datetime]) -> list[tuple[datetime, datetime]]:
    """The hours as (first, last) runs of consecutive hours, oldest first."""
    ranges: list[tuple[datetime, datetime]] = []
    for hour in sorted(hours):
        if ranges and ranges[-1][1] + HOUR == hour:
            ranges[-1] = (ranges[-1][0], hour)
        else:
            ranges.append((hour, hour))
    return ranges


def daily_capacity(audit_limits: RateLimitSettings) -> int | None:
    """Requests the audit's limiter admits in a day, its margins applied (None: no limit).

    With the default 3 per 5 s and 30 a minute that is 2 per 5.3 s: 32,603 a day, not 43,200."""
    rates = audit_limits.rates()
    if not rates:
        return None
    return min(rate.limit * DAY_MS // rate.interval for rate in rates)


def hourly_audits_demand(events_per_hour: list[int]) -> int:
    """What helix_audit_schedule spends in a day: each of the day's hours read twice, a run each time."""
    return sum(HOURLY_AUDITS_PER_HOUR * (read_requests(events) + TOKEN_REQUESTS) for events in events_per_hour)


def sweep_budget(stated: int | None, capacity: int | None, hourly_demand: int) -> int | None:
    """The sweep's requests for the day: the stated budget, else what the capacity leaves after
    the hourly audits (None: the audit has no limit, so neither has the sweep)."""
    if stated is not None:
        return stated
    if capacity is None:
        return None
    return max(0, capacity - hourly_demand)
