"""`jd_rejected_records`: the records the extract assets set aside, and writing them.

Each write replaces exactly its own scope (an endpoint's refresh, or an endpoint's hour),
inside the caller's transaction, so re-running never piles up copies. The table is
written by the assets that fetch the records, so in the lineage it is an asset of its
own downstream of them, and each write is recorded as one of its materializations.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Iterable, Mapping, Sequence

import dagster as dg
import orjson
import pandas as pd

from jd_helix.clients.jd.records import DIMENSIONS, Rejection
from jd_helix.lib.asset_defaults import OWNERS
from jd_helix.lib.tables import table_metadata

REFRESH_SCOPE = "refresh"
REJECTED_RECORDS = "jd_rejected_records"

jd_rejected_records = dg.AssetSpec(
    REJECTED_RECORDS,
    deps=["jd_transactions", *DIMENSIONS],
    group_name="reference_data",
    kinds={"duckdb"},
    owners=OWNERS,
    metadata={
        **table_metadata(REJECTED_RECORDS),
        # No body for with_source_code_references to find: link the file that writes it.
        "dagster/code_references": dg.CodeReferencesMetadataValue(
            code_references=[dg.LocalFileCodeReference(file_path=__file__, label="replace_rejections")]
        ),
    },
    description=(
        "Every JD record that could not be used, with endpoint, hour (or 'refresh'), field, reason "
        "and the raw record. Written by the assets upstream as they fetch; "
        "`jd-helix report rejected-records` prints it."
    ),
)


def replace_rejections(
    conn,
    endpoint: str,
    scopes: Sequence[str],
    rejections: Iterable[tuple[str, Rejection]],
    rejected_at: datetime,
) -> None:
    """Replace the rejections of `endpoint` in `scopes` by `rejections` ((scope, rejection) pairs)."""
    _delete_rejections(conn, endpoint, scopes)
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


def replace_staged_rejections(
    conn, endpoint: str, scopes: Sequence[str], files: Sequence[str], rejected_at: datetime
) -> None:
    """`replace_rejections` from Parquet files of (scope, field, reason, raw JSON text)."""
    _delete_rejections(conn, endpoint, scopes)
    conn.execute(
        "INSERT INTO jd_rejected_records "
        "SELECT $endpoint, scope, field, reason, raw::JSON, $rejected_at FROM read_parquet($files)",
        {"endpoint": endpoint, "rejected_at": rejected_at, "files": list(files)},
    )


def _delete_rejections(conn, endpoint: str, scopes: Sequence[str]) -> None:
    conn.execute(
        "DELETE FROM jd_rejected_records WHERE endpoint = ? AND list_contains(?, scope)",
        [endpoint, list(scopes)],
    )


def raw_json(raw) -> str:
    """The record as received, as JSON text (integers too big for orjson fall back to json)."""
    try:
        return orjson.dumps(raw).decode()
    except TypeError:
        return json.dumps(raw, default=str)


def reason_metadata(counts: Mapping[str, int]) -> dict[str, int]:
    """Records set aside, counted by `Rejection.key`, as metadata (`rejected/<field>: <reason>`)."""
    return {f"rejected/{key}": value for key, value in sorted(counts.items())}


def log_rejected_counts(
    context: dg.AssetExecutionContext, endpoint: str, scopes: Sequence[str], counts: Mapping[str, int]
) -> None:
    """Record a write of `jd_rejected_records` as its materialization: the records set aside
    in `scopes`, counted by `Rejection.key`."""
    rejected = sum(counts.values())
    where = scopes[0] if len(scopes) == 1 else f"{scopes[0]} .. {scopes[-1]}"
    context.log_event(
        dg.AssetMaterialization(
            asset_key=REJECTED_RECORDS,
            description=f"{endpoint} ({where}): {rejected} records set aside",
            metadata={
                "endpoint": endpoint,
                "scopes_replaced": len(scopes),
                "first_scope": scopes[0],
                "last_scope": scopes[-1],
                "rejected": rejected,
                **reason_metadata(counts),
            },
        )
    )
