"""An hour's rows split into parts by camera, so that DuckDB works on one part at a time.

Pinning and the outbox work per camera (the free milliseconds are per camera), so a part
is a set of whole cameras: those whose id hashes to it (`hash(camera) % $parts = $part`
in the SQL, with `params`). About rows ÷ parts rows each.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class CameraPart:
    index: int
    of: int

    @classmethod
    def all(cls, rows: int, rows_per_part: int) -> list[CameraPart]:
        """Enough parts for about `rows_per_part` rows each (at least one)."""
        parts = max(1, math.ceil(rows / rows_per_part))
        return [cls(index, parts) for index in range(parts)]

    @property
    def params(self) -> dict[str, Any]:
        return {"part": self.index, "parts": self.of}
