"""Writing the records the extract assets set aside to `jd_rejected_records`.

Each write replaces exactly its own scope (an endpoint's refresh, or an endpoint's hour),
inside the caller's transaction, so re-running never piles up copies.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Iterable, Sequence

import json

import orjson
import pandas as pd

from jd_helix.resources.jd_records import Rejection

REFRESH_SCOPE = "refresh"


def replace_rejections(
    conn,
    endpoint: str,
    scopes: Sequence[str],
    rejections: Iterable[tuple[str, Rejection]],
    rejected_at: datetime,
) -> None:
    """Replace the rejections of `endpoint` in `scopes` by `rejections` ((scope, rejection) pairs)."""
    conn.execute(
        "DELETE FROM jd_rejected_records WHERE endpoint = ? AND list_contains(?, scope)",
        [endpoint, list(scopes)],
    )
    frame = pd.DataFrame(
        [
            (endpoint, scope, r.field, r.reason, raw_json(r.raw))
            for scope, r in rejections
        ],
        columns=["endpoint", "scope", "field", "reason", "raw"],
    )
    if frame.empty:
        return
    conn.execute(
        "INSERT INTO jd_rejected_records "
        "SELECT endpoint, scope, field, reason, raw::JSON, ? FROM frame",
        [rejected_at],
    )


def raw_json(raw) -> str:
    """The record as received, as JSON text (integers too big for orjson fall back to json)."""
    try:
        return orjson.dumps(raw).decode()
    except TypeError:
        return json.dumps(raw, default=str)


def rejection_counts(rejections: Iterable[Rejection]) -> dict[str, int]:
    """Counts by field and reason, as run metadata (`rejected/<field>: <reason>`)."""
    counts = Counter(f"{r.field}: {r.reason}" for r in rejections)
    return {f"rejected/{key}": value for key, value in sorted(counts.items())}
