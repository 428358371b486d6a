"""`jd-helix serve`: the read-only HTTP API over the warehouse."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import click

from jd_helix.api.keys import KEYS_ENV, KeyConfigError, KeyRing, hash_key, new_key
from jd_helix.clients.base_url import is_loopback_host
from jd_helix.resources.warehouse import database_path

KEYS_FILE_ENV = "JD_HELIX_API_KEYS_FILE"
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def _print_new_key(name: str) -> None:
    key = new_key()
    entry = f"{name}:{hash_key(key)}"
    try:
        KeyRing(entry, None)  # the name must be one the key ring accepts
    except KeyConfigError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"API key for {name!r} (give it to the client; it is not stored anywhere):\n  {key}")
    click.echo(f"Add this entry to {KEYS_ENV} (comma-separated) or to the keys file (one a line):\n  {entry}")
    click.echo(f"To revoke it later, change the entry to:\n  {entry}:revoked")


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on. Loopback by default; anything else should sit behind a TLS reverse proxy.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option("--database", default=database_path,
              show_default="JD_HELIX_DUCKDB_PATH or ./data/jd_helix.duckdb", help="The warehouse the pipeline writes.")
@click.option("--keys-file", type=click.Path(dir_okay=False, path_type=Path), envvar=KEYS_FILE_ENV,
              help=f"File of API key entries, one a line (or {KEYS_FILE_ENV}); re-read when it changes.")
@click.option("--replica-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where the API keeps its copy of the warehouse [default: beside the warehouse, in <database>.api-replica].")
@click.option("--refresh-seconds", default=30.0, show_default=True, type=click.FloatRange(min=1),
              help="How often to look for new data in the warehouse (a copy is taken only when it changed).")
@click.option("--new-key", "new_key_name", metavar="NAME", default=None,
              help="Print a new API key for NAME and the entry that grants it, then exit.")
def serve_command(host, port, database, keys_file, replica_dir, refresh_seconds, new_key_name) -> None:
    """Serve the reports over HTTP (read-only, API keys required): see the README's HTTP API section."""
    if new_key_name is not None:
        _print_new_key(new_key_name)
        return
    import uvicorn

    from jd_helix.api.app import create_app
    from jd_helix.api.replica import ReplicaKeeper

    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    try:
        keys = KeyRing(os.environ.get(KEYS_ENV), keys_file)
    except (KeyConfigError, OSError) as error:
        raise click.ClickException(str(error)) from None
    if str(database).startswith("md:"):
        raise click.ClickException("jd-helix serve reads a local DuckDB file; a MotherDuck database is not supported.")
    if not is_loopback_host(host):
        click.echo(f"Listening on {host} in plain HTTP: put a TLS-terminating reverse proxy in front of it.", err=True)
    replica = ReplicaKeeper(database, replica_dir or Path(f"{database}.api-replica"))
    app = create_app(replica, keys, refresh_interval_s=refresh_seconds)
    # Our own access log names the API key; uvicorn's would not.
    uvicorn.run(app, host=host, port=port, access_log=False, log_config=None)
