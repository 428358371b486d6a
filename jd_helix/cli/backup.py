"""`jd-helix backup`: a consistent copy of the warehouse, taken while runs write, with retention."""

from __future__ import annotations

from pathlib import Path

import click

from jd_helix.resources.warehouse import database_path
from jd_helix.resources.warehouse_backups import BackupError, default_backup_dir, prune, summarize, take_backup

DEFAULT_KEEP = 48  # two days of hourly backups


@click.command("backup")
@click.option("--database", default=database_path, show_default="JD_HELIX_DUCKDB_PATH or ./data/jd_helix.duckdb")
@click.option(
    "--to",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder of the backups. [default: backups/ beside the warehouse]",
)
@click.option(
    "--keep",
    default=DEFAULT_KEEP,
    show_default=True,
    type=click.IntRange(min=1),
    help="How many of the newest backups to keep.",
)
@click.option(
    "--wait",
    "wait_s",
    default=300,
    show_default=True,
    type=click.FloatRange(min=0),
    help="Seconds to wait for a pause between the runs' writes.",
)
def backup_command(database: str, directory: Path | None, keep: int, wait_s: float) -> None:
    """Copy the warehouse into the backups folder between two of the runs' writes.

    Safe while the pipeline runs: the copy holds a shared lock for the length of a file copy
    (a run that wants to write meanwhile waits for it). The backup is named by its UTC time
    (jd_helix-YYYYMMDDTHHMMSSZ.duckdb); all but the KEEP newest are then removed. Run it from
    the platform's cron (deploy/README.md, "Backups").
    """
    source = Path(database)
    target_dir = directory or default_backup_dir(source)
    try:
        backup = take_backup(source, target_dir, wait_s)
        removed = prune(target_dir, keep)
    except BackupError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"backed up {source} to {backup} ({backup.stat().st_size} bytes; {summarize(backup).describe()})")
    for path in removed:
        click.echo(f"removed {path} (keeping the {keep} newest)")
