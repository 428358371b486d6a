"""Thresholds of the exception rules (defs/exceptions/rules.py), as a resource so that the UI
shows the values in use (Launchpad: `resources: {exception_settings: {config: {...}}}`)."""

from __future__ import annotations

import dagster as dg
from pydantic import Field


class ExceptionSettings(dg.ConfigurableResource):
    """When a transaction is flagged as an exception for loss prevention."""

    high_value_amount: float = Field(
        default=1000.0, ge=0, description="high_value: a sale above this amount is flagged whatever the store's norm."
    )
    high_value_percentile: float = Field(
        default=0.99,
        gt=0,
        lt=1,
        description="high_value: a sale above this percentile of its store's recent sales is flagged.",
    )
    high_value_history_days: int = Field(
        default=30,
        ge=1,
        description="high_value: the store's recent sales are those of this many days before the hour.",
    )
    high_value_min_history_sales: int = Field(
        default=200,
        ge=1,
        description="high_value: below this many recent sales the store has no norm yet (only the absolute amount applies).",
    )
    price_override_share: float = Field(
        default=0.3,
        gt=0,
        description="price_override: a sale whose amount differs from its item's list price (times the quantity it "
        "comes nearest to) by more than this share.",
    )
    after_hours_history_days: int = Field(
        default=28,
        ge=1,
        description="after_hours: the store's history is this many days before the hour (whole weeks).",
    )
    after_hours_min_history_days: int = Field(
        default=7, ge=1, description="after_hours: with less history than this the rule stays silent for the store."
    )
    after_hours_quiet_sales_per_day: float = Field(
        default=1.0,
        ge=0,
        description="after_hours: the store is quiet at an hour of the day (UTC) when it made fewer sales than this in "
        "that hour, on average per day of its history.",
    )
    repeat_refunds_count: int = Field(
        default=3, ge=2, description="repeat_refunds: this many refunds on one till within the minutes below."
    )
    repeat_refunds_minutes: int = Field(
        default=10, ge=1, le=60, description="repeat_refunds: the window, in minutes, ending at each refund."
    )
