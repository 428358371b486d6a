"""The `jd-helix` command line."""

from __future__ import annotations

import click

from jd_helix.sandbox.command import sandbox_command


@click.group()
def main() -> None:
    """jd_helix: JD Sports sales into DuckDB and Verkada Helix."""


main.add_command(sandbox_command)

if __name__ == "__main__":
    main()
