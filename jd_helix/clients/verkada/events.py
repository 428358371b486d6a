"""An event to post to Helix, and what became of it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from jd_helix.domain.helix_status import HelixStatus


@dataclass(frozen=True)
class HelixEvent:
    """One event to post. ``key`` is the caller's id for it (the transaction_id)."""

    camera_id: str
    event_type_uid: str
    time_ms: int
    attributes: Mapping[str, Any]
    key: str


@dataclass(frozen=True)
class PostOutcome:
    """What became of one event.

    ``status``: ``POSTED``; ``FAILED`` (transient: worth retrying later, same triple);
    ``SKIPPED`` (permanent: Helix, or the client's own check of the same rule, rejected
    it; ``reason`` says why, in Helix's words where Helix said it).
    """

    key: str
    status: HelixStatus
    reason: str | None = None


# Between the client and its posting strategies: an event ready to send (its position in
# the caller's list, the event, its JSON body), and the callback that records outcomes
# by position as they become final.
ReadyEvent = tuple[int, HelixEvent, dict[str, Any]]
ReportOutcomes = Callable[[list[tuple[int, PostOutcome]]], None]
