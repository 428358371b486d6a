"""What the assets declare alike: who owns them, and the concurrency pools they queue in.

dagster.yaml limits every pool to one step at a time across all runs, so parallel runs
and backfills wait for the single DuckDB writer and for the organisation's Helix rate
limit instead of failing on a lock or a 429.
"""

OWNERS = ["team:retail-data"]
DUCKDB_WRITER_POOL = "duckdb_writer"  # steps that write the DuckDB file
VERKADA_HELIX_POOL = "verkada_helix"  # steps that call Verkada (one org, one rate limit)
