"""What the assets declare alike: who owns them, the pools they queue in, the hourly shape.

dagster.yaml limits every pool to one step at a time across all runs, so parallel runs
and backfills wait for the single DuckDB writer and for the organisation's Helix rate
limit instead of failing on a lock or a 429.
"""

from typing import Any

import dagster as dg

from jd_helix.lib.partitions import hourly_backfill_policy, hourly_partitions

OWNERS = ["team:retail-data"]
DUCKDB_WRITER_POOL = "duckdb_writer"  # steps that write the DuckDB file
VERKADA_HELIX_POOL = "verkada_helix"  # steps that call Verkada (one org, one rate limit)
# The audit: one audit step at a time (two audits of an hour would both re-post what Helix
# lost), beside posting and the DuckDB writers, whom its long rate-limited reads must not hold up.
HELIX_AUDIT_POOL = "helix_audit"
HOURLY_GROUP = "hourly_sales"


def hourly_asset(*, group_name: str = HOURLY_GROUP, **asset_args: Any) -> Any:
    """``dg.asset`` for an asset of the hourly chain: UTC hours, run many at a time in
    backfills, owned by the team; ``asset_args`` add the asset's own (pool, kinds, deps...)."""
    return dg.asset(
        partitions_def=hourly_partitions,
        backfill_policy=hourly_backfill_policy,
        group_name=group_name,
        owners=OWNERS,
        **asset_args,
    )
