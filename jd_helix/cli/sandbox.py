"""`jd-helix sandbox`: serve the built-in JD + Verkada sandbox until Ctrl-C."""

from __future__ import annotations

from typing import Any

import click

from jd_helix.sandbox.config import SandboxConfig
from jd_helix.sandbox.defaults import SANDBOX_HOST, SANDBOX_PORT
from jd_helix.sandbox.server import Sandbox


def _rate_limit(per_window: int) -> int | None:
    """0 or less on the command line: no limit."""
    return None if per_window <= 0 else per_window


@click.command("sandbox")
@click.option("--host", default=SANDBOX_HOST, show_default=True, help="Loopback address to bind.")
@click.option("--port", default=SANDBOX_PORT, show_default=True, type=int, help="Port (0: any free port).")
@click.option("--seed", default=7, show_default=True, type=int, help="Seed of the synthetic data.")
@click.option("--stores", default=25, show_default=True, type=int)
@click.option("--pos-per-store", default=3, show_default=True, type=int)
@click.option("--items", default=200, show_default=True, type=int)
@click.option(
    "--sales-per-hour",
    default=500.0,
    show_default=True,
    type=float,
    help="Mean sales per hour; each hour follows the daily/weekly curve.",
)
@click.option("--fixed-sales-per-hour", default=None, type=int, help="Every hour has exactly this many sales.")
@click.option("--clean", is_flag=True, help="No data oddities at all.")
@click.option("--timezone", "zone", default="UTC", show_default=True, help="Zone of offset-less JD dates.")
@click.option("--token-ttl-s", default=1800.0, show_default=True, type=float)
@click.option("--rate-limit-per-5s", default=25, show_default=True, type=int, help="0 disables.")
@click.option("--rate-limit-per-minute", default=300, show_default=True, type=int, help="0 disables.")
@click.option("--batch-mode", type=click.Choice(["enabled", "404", "403"]), default="enabled", show_default=True)
@click.option(
    "--fault-api",
    type=click.Choice(["both", "jd", "verkada"]),
    default="both",
    show_default=True,
    help="Which API the --fault-* options apply to.",
)
@click.option("--fault-5xx-rate", default=0.0, type=float, help="Share of requests answered 500/502/503/504.")
@click.option("--fault-429-burst", default=0, type=int, help="The first N requests are answered 429.")
@click.option("--fault-latency-ms", default=0.0, type=float, help="Added to every request.")
@click.option("--fault-drop-rate", default=0.0, type=float, help="Share of connections dropped unanswered.")
@click.option("--fault-non-json", default=0, type=int, help="The first N pages are an HTML body.")
@click.option(
    "--fault-lose-create-rate",
    default=0.0,
    type=float,
    help="Share of acknowledged Helix event creates that Helix then does not hold.",
)
def sandbox_command(
    host: str,
    port: int,
    seed: int,
    stores: int,
    pos_per_store: int,
    items: int,
    sales_per_hour: float,
    fixed_sales_per_hour: int | None,
    clean: bool,
    zone: str,
    token_ttl_s: float,
    rate_limit_per_5s: int,
    rate_limit_per_minute: int,
    batch_mode: str,
    fault_api: str,
    fault_5xx_rate: float,
    fault_429_burst: int,
    fault_latency_ms: float,
    fault_drop_rate: float,
    fault_non_json: int,
    fault_lose_create_rate: float,
) -> None:
    """Serve the built-in JD Sports + Verkada Helix sandbox until Ctrl-C."""
    faults: list[dict[str, Any]] = [
        {
            "api": fault_api,
            "error_rate": fault_5xx_rate,
            "burst_429": fault_429_burst,
            "latency_ms": fault_latency_ms,
            "drop_rate": fault_drop_rate,
            "non_json": fault_non_json,
        },
        {"api": "verkada", "lose_create_rate": fault_lose_create_rate},
    ]  # Verkada's only
    config = SandboxConfig(
        seed=seed,
        stores=stores,
        pos_per_store=pos_per_store,
        items=items,
        sales_per_hour=sales_per_hour,
        fixed_sales_per_hour=fixed_sales_per_hour,
        clean=clean,
        timezone=zone,
        token_ttl_s=token_ttl_s,
        rate_limit_per_5s=_rate_limit(rate_limit_per_5s),
        rate_limit_per_minute=_rate_limit(rate_limit_per_minute),
        batch_mode=batch_mode,
        faults=faults,
    )
    sandbox = Sandbox(config, host=host, port=port).start()
    click.echo(f"jd_helix sandbox listening on {sandbox.base_url} (seed {seed}{', clean' if clean else ''})")
    click.echo(f"  JD_API_BASE_URL={sandbox.jd_base_url}")
    click.echo(f"  JD_API_KEY={sandbox.jd_api_key}")
    click.echo(f"  JD_API_TIMEZONE={zone}")
    click.echo(f"  VERKADA_API_BASE_URL={sandbox.verkada_base_url}")
    click.echo(f"  VERKADA_API_KEY={sandbox.verkada_api_key}")
    click.echo(f"  inspect: {sandbox.base_url}/_sandbox/events  /_sandbox/writes  /_sandbox/stats  /_sandbox/faults")
    click.echo(f"  delete events as Command would: POST {sandbox.base_url}/_sandbox/events/delete")
    click.echo("Ctrl-C to stop.", nl=True)
    sandbox.serve_forever()
