"""Settings of the hourly runs, as a resource so that the UI shows the values in use."""

from __future__ import annotations

import dagster as dg
from pydantic import Field

DEFAULT_LOOKBACK_HOURS = 2
DEFAULT_MAX_UNMAPPED_SHARE = 0.10


class HourlySettings(dg.ConfigurableResource):
    """How far the hourly schedule looks back, and how many unmapped sales an hour may have."""

    lookback_hours: int = Field(
        default=DEFAULT_LOOKBACK_HOURS,
        ge=0,
        description="JD_HELIX_LOOKBACK_HOURS: earlier hours each scheduled run re-reads (late sales, failed hours).",
    )
    max_unmapped_share: float = Field(
        default=DEFAULT_MAX_UNMAPPED_SHARE,
        ge=0,
        le=1,
        description="JD_HELIX_MAX_UNMAPPED_SHARE: share of an hour's sales with no Verkada camera above which its check warns.",
    )
