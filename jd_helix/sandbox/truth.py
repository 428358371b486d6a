"""Ground truth: what a correct pipeline must make of the records the sandbox serves.

Its own module because both the world (dimension records) and the sales generator
produce it, and the server hands it out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any


@dataclass(frozen=True)
class TruthSale:
    transaction_id: str
    instant: datetime
    time_ms: int
    amount: Decimal
    item_id: str
    camera_id: str
    verkada_camera_id: str | None


@dataclass(frozen=True)
class TruthRejection:
    raw: Any
    field: str
    reason: str


@dataclass
class SalesTruth:
    valid: dict[str, TruthSale]
    rejected: list[TruthRejection]
    # Valid records served again for a sale already served in the window: a correct pipeline
    # keeps the last of them and drops these.
    duplicates: int = 0


@dataclass
class DimensionTruth:
    """Valid records of one dimension endpoint by id (last occurrence wins, normalised
    required fields plus the raw record under "raw"), and the rejected ones."""

    valid: dict[str, dict[str, Any]]
    rejected: list[TruthRejection]
