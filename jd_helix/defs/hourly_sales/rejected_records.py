"""`jd_rejected_records`: the records the extract assets set aside, and writing them.

Each write replaces exactly its own scope (an endpoint's refresh, or an endpoint's hour),
inside the caller's transaction, so re-running never piles up copies. The table is
written by the assets that fetch the records, so in the lineage it is an asset of its
own downstream of them, in a group of its own (in the reference_data group it drew reference
data downstream of the hourly sales), and each write is recorded as one of its
materializations: what that write replaced, and the table as a whole after it
(`dagster/row_count`, `table/<endpoint>`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path

import dagster as dg
import orjson
import pandas as pd

from jd_helix.clients.jd.records import DIMENSIONS, Rejection
from jd_helix.lib.asset_defaults import OWNERS
from jd_helix.lib.tables import table_metadata

REFRESH_SCOPE = "refresh"
REJECTED_RECORDS = "jd_rejected_records"


def _writer(path_in_defs: str) -> str:
    return str(Path(__file__).resolve().parents[1] / path_in_defs)


jd_rejected_records = dg.AssetSpec(
    REJECTED_RECORDS,
    deps=["jd_transactions", *DIMENSIONS],
    group_name="rejected_records",
    kinds={"duckdb"},
    owners=OWNERS,
    metadata={
        **table_metadata(REJECTED_RECORDS),
        # No body for with_source_code_references to find: link the assets that write it.
        "dagster/code_references": dg.CodeReferencesMetadataValue(
            code_references=[
                dg.LocalFileCodeReference(
                    file_path=_writer("hourly_sales/transactions.py"), label="written by jd_transactions"
                ),
                dg.LocalFileCodeReference(
                    file_path=_writer("reference_data/assets.py"),
                    label="written by jd_stores, jd_points_of_sale, jd_cameras, jd_items",
                ),
            ]
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
        [(endpoint, scope, r.field, r.reason, raw_json(r.raw)) for scope, r in rejections],
        columns=["endpoint", "scope", "field", "reason", "raw"],
    )
    if frame.empty:
        return
    conn.execute(
        "INSERT INTO jd_rejected_records SELECT endpoint, scope, field, reason, raw::JSON, ? FROM frame",
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


def table_figures(conn) -> dict[str, int]:
    """The whole table after a write, for its materialization: rows, and rows per endpoint.
    Read inside the writer's transaction, so it is the table that write left."""
    per_endpoint = conn.execute(
        "SELECT endpoint, count(*) FROM jd_rejected_records GROUP BY endpoint ORDER BY endpoint"
    ).fetchall()
    return {"dagster/row_count": sum(n for _, n in per_endpoint), **{f"table/{e}": n for e, n in per_endpoint}}


def log_rejected_counts(
    context: dg.AssetExecutionContext,
    endpoint: str,
    scopes: Sequence[str],
    counts: Mapping[str, int],
    table: Mapping[str, int],
) -> None:
    """Record a write of `jd_rejected_records` as its materialization: the records set aside
    in `scopes`, counted by `Rejection.key`, then the whole table (`table_figures`)."""
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
                **table,
            },
        )
    )
