"""The `jd-helix` command line."""

import click

from jd_helix.api.command import serve_command
from jd_helix.ledger_command import ledger_command
from jd_helix.pools.command import free_slots_command
from jd_helix.report_cli import report_command
from jd_helix.sandbox.command import sandbox_command


@click.group()
def main() -> None:
    """jd_helix: JD Sports sales into DuckDB and Verkada Helix."""


@main.command("dev")
@click.option("--port", default=3000, show_default=True, type=int, help="Port of the Dagster UI.")
def dev_command(port: int) -> None:
    """Start the Dagster UI with the shipped settings, and the sandbox if no API setting is given."""
    from jd_helix.dev import run_dev

    raise SystemExit(run_dev(port))


main.add_command(sandbox_command)
main.add_command(report_command)
main.add_command(serve_command)
main.add_command(free_slots_command)
main.add_command(ledger_command)

if __name__ == "__main__":
    main()
