"""`jd-helix free-slots`: give back the pool slots of runs whose worker is gone."""

from __future__ import annotations

import click
import dagster as dg

from jd_helix.lib.pools import holders as pool_holders
from jd_helix.lib.pools.worker import Liveness


@click.command("free-slots")
@click.argument("run_id", required=False)
def free_slots_command(run_id: str | None) -> None:
    """Free the pool slots of dead runs on the instance in $DAGSTER_HOME.

    Without RUN_ID: frees those of runs that have ended or whose worker is gone from this
    machine, and lists the holders it cannot check. With RUN_ID (a run you know is dead,
    e.g. its machine is gone): marks it failed, so run retries resume it, and frees its slots.
    """
    with dg.DagsterInstance.get() as instance:
        if run_id is None:
            held = pool_holders.all_holders(instance)
            if not held:
                click.echo("No run holds or waits for a pool slot.")
            for holder in held:
                if holder.releasable:
                    pool_holders.release(
                        instance, holder, f"Slots freed by jd-helix free-slots: {holder.describe()} is gone."
                    )
                    click.echo(f"freed   {holder.describe()}")
                elif holder.liveness == Liveness.ALIVE:
                    click.echo(f"running {holder.describe()}")
                else:
                    click.echo(
                        f"unknown {holder.describe()}: if it is dead, run: {pool_holders.free_slots_hint(instance, holder.run_id)}"
                    )
            return
        holder = pool_holders.judge(instance, run_id)
        if holder.status == "DELETED" and run_id not in instance.event_log_storage.get_concurrency_run_ids():
            raise click.ClickException(f"No run {run_id} on this instance holds a slot.")
        if holder.liveness == Liveness.ALIVE:
            raise click.ClickException(f"{holder.describe()} is still running on this machine: nothing freed.")
        pool_holders.release(instance, holder, f"Slots freed by an operator (jd-helix free-slots {run_id}).")
        click.echo(f"freed   {holder.describe()}")
