"""`jd-helix report ...`: the old app's reports, printed from the warehouse."""

from datetime import UTC, datetime, timedelta

import click

from jd_helix.cli import report_queries as reports
from jd_helix.cli.exceptions_report import exceptions_by_till
from jd_helix.domain.exception_rules import RULES
from jd_helix.resources.warehouse import database_path


def _utc(value: datetime | None, default: datetime) -> datetime:
    """Options are read as UTC wall-clock times (naive), as the warehouse stores them."""
    return (value or default).replace(tzinfo=None)


def _show(report, output: str, wait_s: float) -> None:
    def say_waiting() -> None:
        click.echo(f"A run is writing the warehouse; waiting for a pause (up to {wait_s:g} s, --wait)...", err=True)

    try:
        frame = report(reports.WriterWait(wait_s, say_waiting))
    except reports.WarehouseUnreadable as error:
        raise click.ClickException(str(error)) from None
    if output == "csv":
        click.echo(frame.to_csv(index=False), nl=False)
    elif output == "json":
        click.echo(frame.to_json(orient="records", date_format="iso", default_handler=str))
    elif frame.empty:
        click.echo("(no rows)")
    else:
        click.echo(frame.to_markdown(index=False))


_DATETIME = click.DateTime(formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"])
_window = [
    click.option(
        "--start", type=_DATETIME, default=None, help="UTC, e.g. 2026-11-28T09:00 (default: 24 hours before --end)."
    ),
    click.option("--end", type=_DATETIME, default=None, help="UTC, exclusive (default: now)."),
    click.option("--database", default=database_path, show_default="JD_HELIX_DUCKDB_PATH or ./data/jd_helix.duckdb"),
    click.option("--format", "output", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True),
    click.option(
        "--wait",
        "wait_s",
        type=click.FloatRange(min=0),
        default=120,
        show_default=True,
        help="Seconds to wait while a run is writing the warehouse (runs hold it only while they write).",
    ),
]


def window_options(command):
    for option in reversed(_window):
        command = option(command)
    return command


def _bounds(start: datetime | None, end: datetime | None) -> tuple[datetime, datetime]:
    end_at = _utc(end, datetime.now(UTC))
    return _utc(start, end_at - timedelta(hours=24)), end_at


@click.group("report")
def report_command() -> None:
    """Reports over the warehouse (read-only; they wait while a run is writing it)."""


@report_command.command("transactions")
@window_options
def transactions_report(start, end, database, output, wait_s) -> None:
    """The sales of a period, with store, till, camera and Helix status."""
    _show(lambda wait: reports.transactions(database, *_bounds(start, end), wait), output, wait_s)


@report_command.command("store-sales")
@click.argument("store_id")
@window_options
def store_sales_report(store_id, start, end, database, output, wait_s) -> None:
    """One store's number of sales and sales total over a period."""
    _show(lambda wait: reports.store_sales(database, store_id, *_bounds(start, end), wait), output, wait_s)


@report_command.command("stores-with-sales")
@window_options
def stores_with_sales_report(start, end, database, output, wait_s) -> None:
    """The stores with at least one sale in a period."""
    _show(lambda wait: reports.stores_with_sales(database, *_bounds(start, end), wait), output, wait_s)


@report_command.command("rejected-records")
@window_options
def rejected_records_report(start, end, database, output, wait_s) -> None:
    """The JD records set aside (jd_rejected_records) for the hours of a period, with field and reason."""
    _show(lambda wait: reports.rejected_records(database, *_bounds(start, end), wait), output, wait_s)


@report_command.command("exceptions")
@click.option(
    "--rule", type=click.Choice(RULES), default=None, help="Only transactions this rule flagged (default: any)."
)
@window_options
def exceptions_report(rule, start, end, database, output, wait_s) -> None:
    """Flagged transactions of a period per store and till, with a count per exception rule."""
    _show(lambda wait: exceptions_by_till(database, *_bounds(start, end), rule, wait), output, wait_s)


# Registered here; the command lives in its own module.
from jd_helix.cli.report_helix_audit import helix_audit_report  # noqa: E402

report_command.add_command(helix_audit_report)
