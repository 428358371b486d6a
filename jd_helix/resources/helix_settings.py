"""How jd_helix uses Helix: the event type's name and schema, and how hard to retry."""

from __future__ import annotations

import dagster as dg
from pydantic import Field

DEFAULT_EVENT_TYPE_NAME = "JD Sports Sale"

# The event type schema (docs/verkada-helix-api.md, "The event").
EVENT_SCHEMA = {
    "transaction_id": "string",
    "transaction_amount": "float",
    "item_id": "string",
    "item_name": "string",
    "store_id": "string",
    "store_name": "string",
    "pos_id": "string",
    "pos_name": "string",
    # Exception flags (defs/exceptions/rules.py): one boolean per rule, and the rules that fired.
    "refund": "boolean",
    "high_value": "boolean",
    "price_override": "boolean",
    "after_hours": "boolean",
    "repeat_refunds": "boolean",
    "exceptions": "string",
}


class HelixSettings(dg.ConfigurableResource):
    """Settings of the Helix delivery (not secrets)."""

    event_type_name: str = Field(
        default=DEFAULT_EVENT_TYPE_NAME,
        description="JD_HELIX_EVENT_TYPE: the Helix event type's name when no event types file is set.",
    )
    event_types_file: str = Field(
        default="",
        description=(
            "JD_HELIX_EVENT_TYPES_FILE: a YAML file declaring the Helix event types (README, 'Event types'); "
            "empty: one type (event_type_name) for every transaction."
        ),
    )
    max_attempts: int = Field(
        default=6, ge=1, description="Attempts per event before it is left failed for a person to see."
    )
    retry_base_minutes: float = Field(
        default=5.0,
        gt=0,
        description="helix_retry_sensor waits this long after the first failed attempt, doubling each time.",
    )
    footage_links: bool = Field(
        default=False,
        description="Also record a Verkada footage link for events posted in a run (one request each).",
    )
    footage_links_per_run: int = Field(
        default=100,
        ge=0,
        description="At most this many footage links per run, so links never eat the posting budget.",
    )
