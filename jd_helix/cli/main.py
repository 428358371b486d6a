"""The `jd-helix` command line."""

from pathlib import Path

import click

from jd_helix.cli.backup import backup_command
from jd_helix.cli.check_daemon import check_daemon_command
from jd_helix.cli.free_slots import free_slots_command
from jd_helix.cli.ledger import ledger_command
from jd_helix.cli.report import report_command
from jd_helix.cli.restore import restore_command
from jd_helix.cli.sandbox import sandbox_command
from jd_helix.cli.serve import serve_command
from jd_helix.sandbox import defaults as sandbox_defaults


@click.group()
def main() -> None:
    """jd_helix: JD Sports sales into DuckDB and Verkada Helix."""


@main.command("dev")
@click.option("--port", default=3000, show_default=True, type=int, help="Port of the Dagster UI.")
@click.option(
    "--sandbox-port",
    default=sandbox_defaults.SANDBOX_PORT,
    show_default=True,
    type=int,
    help="Port of the sandbox, when it is used.",
)
@click.option(
    "--dagster-home",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="DAGSTER_HOME to use (the shipped dagster.yaml is copied in). [default: the project's .dagster_home/]",
)
def dev_command(port: int, sandbox_port: int, dagster_home: Path | None) -> None:
    """Start the Dagster UI with the shipped settings, and the sandbox if no API setting is given."""
    from jd_helix.cli.dev import DAGSTER_HOME, run_dev

    raise SystemExit(run_dev(port, sandbox_port, (dagster_home or DAGSTER_HOME).resolve()))


main.add_command(sandbox_command)
main.add_command(report_command)
main.add_command(serve_command)
main.add_command(free_slots_command)
main.add_command(ledger_command)
main.add_command(backup_command)
main.add_command(restore_command)
main.add_command(check_daemon_command)

if __name__ == "__main__":
    main()
