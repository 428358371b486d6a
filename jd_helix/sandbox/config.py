"""Configuration of the built-in sandbox (one frozen dataclass)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from jd_helix.sandbox.defaults import JD_SANDBOX_API_KEY, VERKADA_SANDBOX_API_KEY

# Record-level sales oddities: a sale slot is at most one of them, so their rates add up to <= 1.
RECORD_ODDITY_RATE_FIELDS = (
    "duplicate_rate",
    "missing_field_rate",
    "null_field_rate",
    "wrong_kind_rate",
    "zero_amount_rate",
    "unknown_camera_rate",
)
# Oddity rates that clean=True forces to zero (see SandboxConfig.effective()).
ODDITY_RATE_FIELDS = (
    "id_as_string_rate",
    "amount_as_string_rate",
    "date_iso_offset_rate",
    "date_iso_z_rate",
    "extra_field_rate",
    *RECORD_ODDITY_RATE_FIELDS,
    "shared_camera_second_rate",
    "dimension_duplicate_rate",
    "dimension_invalid_rate",
    "case_mismatch_rate",
)
# World quirks (counts) that clean=True forces to zero.
WORLD_QUIRK_FIELDS = ("unmapped_cameras", "ambiguous_camera_names", "uuid_camera_ids")


@dataclass(frozen=True)
class SandboxConfig:
    """Everything that shapes the sandbox's world, data, oddities and behaviour.

    The same config (same seed) always yields the same data.
    """

    seed: int = 7
    # --- the JD world
    stores: int = 25
    pos_per_store: int = 3
    items: int = 200
    sales_per_hour: float = 500  # mean over a week; each hour follows the daily/weekly curve
    fixed_sales_per_hour: int | None = None  # every hour has exactly this many sale slots
    clean: bool = False  # True: no oddities at all, every JD camera maps to one Verkada camera
    timezone: str = "UTC"  # the JD API's zone for offset-less transaction_date
    # --- keys
    jd_api_key: str = JD_SANDBOX_API_KEY
    verkada_api_key: str = VERKADA_SANDBOX_API_KEY
    # --- Verkada behaviour
    token_ttl_s: float = 1800
    rate_limit_per_5s: int | None = 25
    rate_limit_per_minute: int | None = 300
    rate_limit_cooldown_s: float = 5.0
    batch_mode: str = "enabled"  # "enabled" | "404" | "403"
    batch_delay_s: float = 0.05
    max_event_age_days: float = 30
    max_future_s: float = 300
    now: datetime | None = None  # fixed sandbox clock (aware), or None for the real clock
    # --- sales oddities (share of sale slots); formatting variants are valid records
    id_as_string_rate: float = 0.05
    amount_as_string_rate: float = 0.05
    date_iso_offset_rate: float = 0.03
    date_iso_z_rate: float = 0.03
    extra_field_rate: float = 0.02
    duplicate_rate: float = 0.01  # a later slot repeats an earlier valid sale of the hour (last wins)
    duplicate_max_distance: int = 150  # how many slots later a duplicate may appear
    missing_field_rate: float = 0.004
    null_field_rate: float = 0.004
    wrong_kind_rate: float = 0.004
    zero_amount_rate: float = 0.003  # an amount of 0: neither a sale nor a refund, set aside
    unknown_camera_rate: float = 0.005  # valid sale naming a camera the JD camera API does not list
    shared_camera_second_rate: float = 0.03  # sale shares camera and second with the previous sale
    # --- refunds: valid records with a negative amount (not an oddity: clean=True keeps them)
    refund_rate: float = 0.04  # about 1 transaction in 25, a store's usual share (docs/jd-api.md)
    # --- dimension oddities
    dimension_duplicate_rate: float = 0.05  # share of records repeated later (last wins)
    dimension_invalid_rate: float = 0.03  # share (rounded up) of extra invalid records per endpoint
    # --- camera mapping quirks
    case_mismatch_rate: float = 0.1  # Verkada name differs from the JD name in letter case
    unmapped_cameras: int = 2  # JD cameras with no Verkada camera
    ambiguous_camera_names: int = 1  # JD camera names carried by two Verkada cameras
    uuid_camera_ids: int = 2  # JD cameras whose JD camera_id is their Verkada UUID
    extra_verkada_cameras: int = 5  # Verkada cameras that watch no till (entrances)
    # --- faults at start: a dict of Faults.update() keyword arguments, or a list of them
    faults: Any = None

    def __post_init__(self) -> None:
        if self.stores < 1 or self.pos_per_store < 1 or self.items < 1:
            raise ValueError("stores, pos_per_store and items must be >= 1")
        if self.batch_mode not in ("enabled", "404", "403"):
            raise ValueError("batch_mode must be 'enabled', '404' or '403'")
        if self.fixed_sales_per_hour is not None and not (0 <= self.fixed_sales_per_hour < 10_000_000):
            raise ValueError("fixed_sales_per_hour must be in 0..9,999,999")
        if self.sales_per_hour < 0:
            raise ValueError("sales_per_hour must be >= 0")
        if self.now is not None and self.now.tzinfo is None:
            raise ValueError("now must be an aware datetime")
        for name in ODDITY_RATE_FIELDS:
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be in [0, 1]")
        if self.shared_camera_second_rate > 0.5:
            raise ValueError("shared_camera_second_rate must be <= 0.5")
        if not 0 <= self.refund_rate <= 1:
            raise ValueError("refund_rate must be in [0, 1]")
        if sum(getattr(self, name) for name in RECORD_ODDITY_RATE_FIELDS) + self.refund_rate > 1:
            raise ValueError("the record-level oddity rates and refund_rate add up to more than 1")
        if self.date_iso_offset_rate + self.date_iso_z_rate > 1:
            raise ValueError("date_iso_offset_rate + date_iso_z_rate must be <= 1")

    def effective(self) -> SandboxConfig:
        """The config as served: clean=True zeroes every oddity rate and world quirk."""
        if not self.clean:
            return self
        zeros: dict[str, Any] = dict.fromkeys(ODDITY_RATE_FIELDS, 0.0)
        zeros.update(dict.fromkeys(WORLD_QUIRK_FIELDS, 0))
        return dataclasses.replace(self, **zeros)

    def replace(self, **changes: Any) -> SandboxConfig:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """The config as /_sandbox/config shows it: JSON-able, without the API keys."""
        shown = dataclasses.asdict(self)
        shown.pop("jd_api_key")
        shown.pop("verkada_api_key")
        if self.now is not None:
            shown["now"] = self.now.isoformat()
        return shown
