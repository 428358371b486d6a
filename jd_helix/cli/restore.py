"""`jd-helix restore`: put a backup in place of the warehouse, keeping the one it replaces."""

from __future__ import annotations

from pathlib import Path

import click

from jd_helix.resources.warehouse import database_path
from jd_helix.resources.warehouse_backups import BackupError, list_backups, restore_backup, summarize


@click.command("restore")
@click.argument("backup", required=False, type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--database", default=database_path, show_default="JD_HELIX_DUCKDB_PATH or ./data/jd_helix.duckdb")
@click.option(
    "--latest-in",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    default=None,
    help="Restore the newest backup of this folder instead of naming one.",
)
def restore_command(backup: Path | None, database: str, latest_in: Path | None) -> None:
    """Replace the warehouse with BACKUP (a file `jd-helix backup` wrote).

    Stop the code location, the daemon and the HTTP API first: it refuses while any process
    has the warehouse open. The replaced warehouse is kept beside it
    (<file>.before-restore-<UTC time>). Afterwards, re-run the hours since the backup's last
    hour (a backfill): sales the backup's ledger does not know are pinned again to the same
    Helix events, which Helix replaces rather than doubles (deploy/README.md, "Restoring").
    """
    target = Path(database)
    if (backup is None) == (latest_in is None):
        raise click.UsageError("Name a BACKUP file or give --latest-in FOLDER (one of the two).")
    if latest_in is not None:
        found = list_backups(latest_in)
        if not found:
            raise click.ClickException(f"No backup (jd_helix-*.duckdb) in {latest_in}.")
        backup = found[-1]
    assert backup is not None
    try:
        aside = restore_backup(backup, target)
        summary = summarize(target)
    except BackupError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"restored {backup} to {target} ({summary.describe()})")
    if aside is not None:
        click.echo(f"the warehouse it replaced is kept as {aside}")
    if summary.last_sale_hour is not None:
        first = summary.last_sale_hour
        click.echo(
            f"Next: start the pipeline and backfill the hours from {first:%Y-%m-%d-%H:00} UTC to the last complete "
            "hour (UI: Assets -> jd_transactions, transaction_camera_events, helix_events, store_sales -> "
            "Materialize -> that range). The backup's own ledger rows are kept; sales posted since are pinned to "
            "the same events again."
        )
