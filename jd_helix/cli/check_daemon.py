"""`jd-helix check-daemon`: an alert, sent from outside the daemon, when the daemon has stopped."""

from __future__ import annotations

import os

import click
import dagster as dg

from jd_helix.defs.alerts.notifications import UI_URL_ENV, WEBHOOK_URL_ENV, send
from jd_helix.lib.daemon_health import daemon_beats, silent_daemons


def stopped_daemon_message(silent: list, max_age_minutes: float) -> str:
    ui = os.environ.get(UI_URL_ENV, "").rstrip("/")
    where = f" ({ui}/deployment/daemons)" if ui else ""
    return (
        f":rotating_light: jd_helix: the Dagster daemon has not reported for over {max_age_minutes:g} min - "
        f"{'; '.join(beat.describe() for beat in silent)}. Schedules, sensors, run retries and the failure "
        f"alerts are stopped until it is back: restart it{where}."
    )


@click.command("check-daemon")
@click.option(
    "--max-age-minutes",
    default=5.0,
    show_default=True,
    type=click.FloatRange(min=0.1),
    help="A daemon loop whose last heartbeat is older than this is taken as stopped.",
)
def check_daemon_command(max_age_minutes: float) -> None:
    """Alert when the Dagster daemon of the instance in $DAGSTER_HOME has stopped.

    Reads the heartbeats the daemon's loops write into the instance; if one is older than
    --max-age-minutes (or missing), posts to JD_HELIX_ALERT_WEBHOOK_URL (when set) and exits 1,
    else exits 0. For a platform probe or cron, every few minutes (deploy/README.md,
    "A stopped daemon"); it alerts at each check while the daemon stays down.
    """
    with dg.DagsterInstance.get() as instance:
        beats = daemon_beats(instance)
    silent = silent_daemons(beats, max_age_minutes * 60)
    if not silent:
        newest = max(beat.age_s or 0.0 for beat in beats) if beats else 0.0
        click.echo(f"daemon alive: {len(beats)} loops, the oldest heartbeat {newest:.0f} s ago")
        return
    message = stopped_daemon_message(silent, max_age_minutes)
    click.echo(message, err=True)
    webhook_url = os.environ.get(WEBHOOK_URL_ENV)
    if webhook_url:
        try:
            send(webhook_url, message)
        except RuntimeError as error:
            raise click.ClickException(str(error)) from None
        click.echo(f"alert posted to {WEBHOOK_URL_ENV}", err=True)
    else:
        click.echo(f"{WEBHOOK_URL_ENV} is not set: no alert posted", err=True)
    raise SystemExit(1)
