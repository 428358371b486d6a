"""`jd-helix serve`: the read-only HTTP API over the warehouse."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import click

from jd_helix.api.header_limit import MAX_HEAD_BYTES
from jd_helix.api.http_protocol import HEAD_TIMEOUT_S
from jd_helix.api.keys import KEYS_ENV, KeyConfigError, KeyRing, hash_key, new_key
from jd_helix.api.limits import ApiLimits
from jd_helix.clients.base_url import is_loopback_host
from jd_helix.resources.warehouse import database_path

KEYS_FILE_ENV = "JD_HELIX_API_KEYS_FILE"
CORS_ORIGINS_ENV = "JD_HELIX_API_CORS_ORIGINS"
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
KEEP_ALIVE_S = 5  # an idle connection is closed after this long


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
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on. Loopback by default; anything else should sit behind a TLS reverse proxy.",
)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--database",
    default=database_path,
    show_default="JD_HELIX_DUCKDB_PATH or ./data/jd_helix.duckdb",
    help="The warehouse the pipeline writes.",
)
@click.option(
    "--keys-file",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar=KEYS_FILE_ENV,
    help=f"File of API key entries, one a line (or {KEYS_FILE_ENV}); re-read when it changes.",
)
@click.option(
    "--replica-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="A folder of the API's own for its copy of the warehouse, made 0700 "
    "[default: beside the warehouse, in <database>.api-replica].",
)
@click.option(
    "--refresh-seconds",
    default=30.0,
    show_default=True,
    type=click.FloatRange(min=1),
    help="How often to look for new data in the warehouse (a copy is taken only when it changed).",
)
@click.option(
    "--new-key",
    "new_key_name",
    metavar="NAME",
    default=None,
    help="Print a new API key for NAME and the entry that grants it, then exit.",
)
@click.option(
    "--rate-limit",
    "rate_limit",
    default=ApiLimits.requests_per_key_per_minute,
    show_default=True,
    type=click.IntRange(min=1),
    help="Requests per API key in any minute; beyond it a 429 with Retry-After.",
)
@click.option(
    "--max-in-flight",
    default=ApiLimits.max_in_flight,
    show_default=True,
    type=click.IntRange(min=1),
    help="Requests answered at once; beyond it a 503 with Retry-After at once.",
)
@click.option(
    "--max-connections",
    default=512,
    show_default=True,
    type=click.IntRange(min=1),
    help="Open connections (uvicorn's limit_concurrency); beyond it uvicorn answers 503.",
)
@click.option(
    "--cors-origin",
    "cors_origins",
    multiple=True,
    envvar=CORS_ORIGINS_ENV,
    help=f"A browser origin allowed to read the answers, e.g. https://dash.example.com (repeat, or {CORS_ORIGINS_ENV} "
    "space-separated); none by default.",
)
@click.option(
    "--head-timeout",
    default=HEAD_TIMEOUT_S,
    show_default=True,
    type=click.FloatRange(min=0.1),
    help="Seconds a connection has to send a whole request line and headers before it is closed.",
)
def serve_command(
    host,
    port,
    database,
    keys_file,
    replica_dir,
    refresh_seconds,
    new_key_name,
    rate_limit,
    max_in_flight,
    max_connections,
    cors_origins,
    head_timeout,
) -> None:
    """Serve the reports over HTTP (read-only, API keys required): see the README's HTTP API section."""
    if new_key_name is not None:
        _print_new_key(new_key_name)
        return
    import uvicorn

    from jd_helix.api.app import create_app
    from jd_helix.api.http_protocol import with_head_timeout
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
    limits = ApiLimits(
        requests_per_key_per_minute=rate_limit, max_in_flight=max_in_flight, cors_origins=tuple(cors_origins)
    )
    app = create_app(replica, keys, refresh_interval_s=refresh_seconds, limits=limits)
    uvicorn.run(
        app,
        host=host,
        port=port,
        access_log=False,
        log_config=None,  # our own access log names the API key; uvicorn's would not
        # h11 (not httptools, which has neither) with a deadline and a size limit on request heads.
        http=with_head_timeout(head_timeout),
        h11_max_incomplete_event_size=MAX_HEAD_BYTES,
        limit_concurrency=max_connections,
        timeout_keep_alive=KEEP_ALIVE_S,
    )
