"""`jd-helix ledger start-fresh`: a new, empty Helix ledger, on purpose, keeping the old one."""

from datetime import UTC, datetime

import click

from jd_helix.defs.helix.destination import recorded_destination
from jd_helix.resources.warehouse import WarehouseResource, database_path


@click.group("ledger")
def ledger_command() -> None:
    """The Helix ledger (helix_events) of the warehouse."""


@ledger_command.command("start-fresh")
@click.option("--database", default=database_path, show_default="JD_HELIX_DUCKDB_PATH or ./data/jd_helix.duckdb")
def start_fresh_command(database: str) -> None:
    """Keep the current ledger as helix_events_until_<UTC time> and start an empty one.

    For pointing a warehouse at another Helix: the next run of each hour pins and posts its
    sales there. Stop the pipeline first (the warehouse has one writer).
    """
    table = f"helix_events_until_{datetime.now(UTC):%Y%m%d%H%M%S}"  # the old ledger's new home
    with WarehouseResource(database=database).write() as conn:
        destination = recorded_destination(conn)
        conn.execute(f"CREATE TABLE {table} AS SELECT * FROM helix_events")
        rows = len(conn.execute("DELETE FROM helix_events RETURNING transaction_id").fetchall())
        conn.execute("DELETE FROM helix_destination")  # the table exists: opening for writing migrates
    was = f" (posted to {destination[0]}, event type {destination[1]})" if destination else ""
    click.echo(f"{rows} ledger rows{was} kept in table {table} of {database}; helix_events is empty.")
    click.echo(
        "Re-materialize the hours to post (Dagster UI or a backfill); they are pinned for the Helix now configured."
    )
