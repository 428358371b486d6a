"""API load benchmark (issue 17): p50/p99 latency of the three reports of `jd-helix serve`
under steady load from a second process, first while nothing writes (the baseline), then
while a backfill writes DuckDB, with the error count.

World: the sandbox and `dagster dev` on the shipped dagster.yaml (see backfill.py, whose
machinery this reuses), a temp DuckDB file. Steps:
  1. dimensions_job, then a seed backfill of --seed-hours (data to read from the start);
  2. `jd-helix serve` on a free loopback port (its own process, --refresh-seconds 5);
  3. baseline: --clients concurrent clients (aiohttp, their own process) for --baseline-s;
  4. the same load while a backfill of --hours writes, until the backfill ends.
The reports, in turn: GET /v1/transactions (one random hour of the data, 100 a page),
GET /v1/sales?granularity=day, GET /v1/stores. Errors: any answer that is not a 200, and
any connection error. Also shown: how many copies the API took and how old its data got.

Run (the issue's figure):  python benchmarks/api_load.py --hours 720 --sales-per-hour 500
Quicker, as recorded:      python benchmarks/api_load.py --hours 72 --seed-hours 24

The crowd (issue 26), on its own: --crowd. A warehouse filled as the API's tests fill it
(or --database), and `jd-helix serve` (--rate-limit out of the way: one key for everyone)
run twice in the same run: once with load shedding out of the way (--max-in-flight 100000,
the behaviour before issue 26: the baseline) and once with its default limit. Each time
--clients (200) clients ask for --crowd-s seconds for pages already asked once (cached):
p50/p99/max of the answered (200) requests, errors (any other answer, any connection
error), and shed requests (503 with Retry-After: the client waits as told and asks again)
counted apart. Then hostile keys: --hostile-requests (3,000) requests, each with a store_id
filter of its own of 8 KB, and the server's RSS before and after.
  python benchmarks/api_load.py --crowd
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))

from backfill import (
    BENCH_TAG,
    HOURLY_ASSETS,
    PARTITION_FORMAT,
    PROJECT_ROOT,
    Proc,
    World,
    free_port,
    hour_keys,
    log,
    port_open,
    run_dimensions,
    wait_tagged_runs,
)

from jd_helix.api.keys import hash_key, new_key

REPORTS = ("transactions", "sales_per_day", "stores")


# -- the load: a second process ---------------------------------------------------------


async def _client(
    session, base: str, key: str, hours: list[str], stop: asyncio.Event, samples: dict, errors: list, ages: list
):
    import aiohttp

    headers = {"X-API-Key": key}
    turn = random.randrange(len(REPORTS))
    while not stop.is_set():
        report = REPORTS[turn % len(REPORTS)]
        turn += 1
        if report == "transactions":
            hour = datetime.strptime(random.choice(hours), PARTITION_FORMAT)
            params = {
                "start": f"{hour:%Y-%m-%dT%H:%M:%S}Z",
                "end": f"{hour + timedelta(hours=1):%Y-%m-%dT%H:%M:%S}Z",
                "limit": "100",
            }
            path = "/v1/transactions"
        elif report == "sales_per_day":
            path, params = "/v1/sales", {"granularity": "day", "limit": "100"}
        else:
            path, params = "/v1/stores", {"limit": "100"}
        started = time.perf_counter()
        try:
            async with session.get(base + path, params=params, headers=headers) as response:
                body = await response.read()
                if response.status != 200:
                    errors.append(f"{report} {response.status} {body[:200]!r}")
                    continue
        except (TimeoutError, aiohttp.ClientError) as error:
            errors.append(f"{report} {type(error).__name__} {error}")
            continue
        samples[report].append((time.perf_counter() - started) * 1000)
        # how old the data of this answer was: now - its as_of
        as_of = datetime.strptime(orjson.loads(body)["as_of"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
        ages.append((datetime.now(UTC) - as_of).total_seconds())


async def _load(base: str, key: str, hours: list[str], clients: int, out: Path) -> None:
    import aiohttp

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    samples: dict[str, list[float]] = {r: [] for r in REPORTS}
    errors: list[str] = []
    ages: list[float] = []
    started = time.monotonic()
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(timeout=timeout, connector=aiohttp.TCPConnector(limit=clients)) as session:
        await asyncio.gather(*(_client(session, base, key, hours, stop, samples, errors, ages) for _ in range(clients)))
    out.write_text(
        json.dumps({"seconds": time.monotonic() - started, "samples": samples, "errors": errors, "ages": ages})
    )


def load_worker(args: argparse.Namespace) -> int:
    asyncio.run(_load(args.base_url, os.environ["API_LOAD_KEY"], args.hour_keys.split(","), args.clients, args.out))
    return 0


class Load:
    """The load generator in its own process, from start() to finish()."""

    def __init__(self, base: str, key: str, hours: list[str], clients: int, workdir: Path, name: str):
        self.out = workdir / f"load_{name}.json"
        command = [
            sys.executable,
            __file__,
            "--load-worker",
            "--base-url",
            base,
            "--clients",
            str(clients),
            "--hour-keys",
            ",".join(hours),
            "--out",
            str(self.out),
        ]
        self.proc = subprocess.Popen(command, env={**os.environ, "API_LOAD_KEY": key}, cwd=PROJECT_ROOT)

    def finish(self) -> dict:
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(timeout=120)
        result = json.loads(self.out.read_text())
        return summarize(result)


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summarize(result: dict) -> dict:
    summary = {
        "seconds": round(result["seconds"], 1),
        "errors": len(result["errors"]),
        "error_samples": result["errors"][:5],
    }
    total = 0
    for report, values in result["samples"].items():
        total += len(values)
        if values:
            summary[report] = {
                "requests": len(values),
                "p50_ms": round(statistics.median(values), 1),
                "p99_ms": round(_percentile(values, 0.99), 1),
                "max_ms": round(max(values), 1),
            }
    summary["requests_per_s"] = round(total / max(result["seconds"], 0.001), 1)
    if result["ages"]:
        summary["data_age_s"] = {
            "p50": round(statistics.median(result["ages"]), 1),
            "max": round(max(result["ages"]), 1),
        }
    return summary


# -- the API: a third process ------------------------------------------------------------


def start_api(world: World, key: str) -> tuple[Proc, str]:
    # Issue 17 measures the reports while runs write: one key for 50 clients, every request
    # answered (the limits of issue 26 are measured by --crowd).
    limits_off = ["--rate-limit", "100000000", "--max-in-flight", "100000"]
    return start_serve(world.database, world.dir, key, ["--refresh-seconds", "5", *limits_off])


def start_serve(database: Path, workdir: Path, key: str, options: list[str], name: str = "serve") -> tuple[Proc, str]:
    port = free_port()
    env = {**os.environ, "JD_HELIX_API_KEYS": f"bench:{hash_key(key)}"}
    command = [
        sys.executable,
        "-m",
        "jd_helix.cli",
        "serve",
        "--port",
        str(port),
        "--database",
        str(database),
        "--replica-dir",
        str(workdir / f"{name}.replica"),
        *options,
    ]
    proc = Proc("jd-helix serve", command, env, workdir / f"{name}.log")
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        if port_open(port) and requests.get(f"{base}/healthz", timeout=5).status_code == 200:
            return proc, base
        if not proc.alive() or time.monotonic() > deadline:
            raise RuntimeError(f"jd-helix serve did not start; see {workdir / f'{name}.log'}")
        time.sleep(0.5)


def api_status(base: str, key: str) -> dict:
    return requests.get(f"{base}/v1/status", headers={"X-API-Key": key}, timeout=10).json()


def backfill(world: World, keys: list[str], name: str, timeout_s: float) -> dict:
    started = time.monotonic()
    backfill_id = world.client.launch_asset_backfill(HOURLY_ASSETS, keys, {BENCH_TAG: name})
    runs, status = wait_tagged_runs(world, {"dagster/backfill": backfill_id}, timeout_s, backfill_id, None)
    failed = sum(1 for r in runs if r["status"] == "FAILURE")
    return {
        "hours": len(keys),
        "wall_s": round(time.monotonic() - started, 1),
        "runs": len(runs),
        "failed_runs": failed,
        "status": status,
    }


def print_table(baseline: dict, loaded: dict) -> None:
    print(
        "\n| report | baseline p50 / p99 (ms) | during backfill p50 / p99 (ms) | p99 ratio | requests (baseline / backfill) |"
    )
    print("|---|---|---|---|---|")
    for report in REPORTS:
        b, w = baseline.get(report), loaded.get(report)
        if b and w:
            print(
                f"| {report} | {b['p50_ms']} / {b['p99_ms']} | {w['p50_ms']} / {w['p99_ms']} | "
                f"x{w['p99_ms'] / max(b['p99_ms'], 0.001):.1f} | {b['requests']} / {w['requests']} |"
            )
    print(
        f"errors: baseline {baseline['errors']}, during backfill {loaded['errors']}; "
        f"throughput {baseline['requests_per_s']} / {loaded['requests_per_s']} requests/s; "
        f"age of the data served during the backfill (now - as_of): {loaded.get('data_age_s')} s"
    )


# -- the crowd (issue 26): 200 clients on cached pages, shedding off and on ---------------


def crowd_pages(base: str, key: str) -> list[tuple[str, dict]]:
    """The pages the crowd asks for: the first page of every list, and of each hour's sales."""
    headers = {"X-API-Key": key}
    hours = requests.get(
        f"{base}/v1/sales", params={"granularity": "hour", "limit": "1000"}, headers=headers, timeout=30
    ).json()
    pages = [
        ("/v1/stores", {"limit": "100"}),
        ("/v1/sales", {"granularity": "day", "limit": "100"}),
        ("/v1/sales", {"granularity": "hour", "limit": "100"}),
        ("/v1/rejected-records", {"limit": "100"}),
    ]
    starts = sorted({row["period_start"] for row in hours["items"]})
    pages += [("/v1/transactions", {"start": start, "limit": "100"}) for start in starts]
    for path, params in pages:  # asked once: cached from now on
        assert requests.get(base + path, params=params, headers=headers, timeout=30).status_code == 200
    return pages


async def _crowd_client(
    session, base: str, key: str, pages: list, stop: asyncio.Event, samples: list, shed: list, errors: list
):
    import aiohttp

    headers = {"X-API-Key": key}
    while not stop.is_set():
        path, params = random.choice(pages)
        started = time.perf_counter()
        try:
            async with session.get(base + path, params=params, headers=headers) as response:
                body = await response.read()
                if response.status == 503 and "Retry-After" in response.headers:
                    shed.append((time.perf_counter() - started) * 1000)
                    await asyncio.sleep(float(response.headers["Retry-After"]))
                    continue
                if response.status != 200:
                    errors.append(f"{path} {response.status} {body[:200]!r}")
                    continue
        except (TimeoutError, aiohttp.ClientError) as error:
            errors.append(f"{path} {type(error).__name__} {error}")
            continue
        samples.append((time.perf_counter() - started) * 1000)


async def _crowd(base: str, key: str, pages: list, clients: int, seconds: float) -> dict:
    import aiohttp

    stop = asyncio.Event()
    samples: list[float] = []
    shed: list[float] = []
    errors: list[str] = []
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(timeout=timeout, connector=aiohttp.TCPConnector(limit=clients)) as session:
        tasks = [
            asyncio.create_task(_crowd_client(session, base, key, pages, stop, samples, shed, errors))
            for _ in range(clients)
        ]
        await asyncio.sleep(seconds)
        stop.set()
        await asyncio.gather(*tasks)
    summary: dict = {
        "clients": clients,
        "seconds": seconds,
        "answered": len(samples),
        "shed": len(shed),
        "errors": len(errors),
        "error_samples": errors[:5],
        "answered_per_s": round(len(samples) / seconds, 1),
    }
    if samples:
        summary.update(
            p50_ms=round(statistics.median(samples), 1),
            p99_ms=round(_percentile(samples, 0.99), 1),
            max_ms=round(max(samples), 1),
        )
    if shed:
        summary["shed_p99_ms"] = round(_percentile(shed, 0.99), 1)
    return summary


def crowd_worker(args: argparse.Namespace) -> int:
    pages = json.loads(args.pages)
    result = asyncio.run(_crowd(args.base_url, os.environ["API_LOAD_KEY"], pages, args.clients, args.crowd_s))
    args.out.write_text(json.dumps(result))
    return 0


def run_crowd(base: str, key: str, pages: list, clients: int, seconds: float, workdir: Path, name: str) -> dict:
    """The crowd in its own process (its event loop must not share the server's CPU time with ours)."""
    out = workdir / f"crowd_{name}.json"
    command = [
        sys.executable,
        __file__,
        "--crowd-worker",
        "--base-url",
        base,
        "--clients",
        str(clients),
        "--crowd-s",
        str(seconds),
        "--pages",
        json.dumps(pages),
        "--out",
        str(out),
    ]
    subprocess.run(command, env={**os.environ, "API_LOAD_KEY": key}, cwd=PROJECT_ROOT, check=True)
    return json.loads(out.read_text())


def hostile_keys(base: str, key: str, requests_n: int, pid: int) -> dict:
    """Requests with a store_id filter of their own, 8 KB each, and the server's RSS around them."""
    import psutil

    server = psutil.Process(pid)
    session = requests.Session()
    session.headers["X-API-Key"] = key
    before = server.memory_info().rss
    statuses: dict[int, int] = {}
    for n in range(requests_n):
        store_id = f"{n:08d}-" + "x" * 8000
        status = session.get(
            f"{base}/v1/transactions", params={"store_id": store_id, "limit": "1"}, timeout=30
        ).status_code
        statuses[status] = statuses.get(status, 0) + 1
    after = server.memory_info().rss
    return {
        "requests": requests_n,
        "statuses": statuses,
        "rss_before_mib": round(before / 2**20, 1),
        "rss_after_mib": round(after / 2**20, 1),
        "rss_growth_mib": round((after - before) / 2**20, 1),
    }


def crowd_main(args: argparse.Namespace) -> int:
    root = Path(tempfile.mkdtemp(prefix="jd_helix_api_crowd_"))
    database = args.database
    if database is None:
        from jd_helix_tests.api.warehouse import fill_warehouse

        database = root / "jd_helix.duckdb"
        log("filling a warehouse as the API's tests do")
        fill_warehouse(str(database))
    key = new_key()
    unlimited_key = ["--rate-limit", "100000000"]
    result: dict = {
        "clients": args.clients,
        "crowd_s": args.crowd_s,
        "cpus": os.cpu_count(),
        "load_avg_at_start": [round(x, 2) for x in os.getloadavg()],
    }
    shedding = ["--max-in-flight", str(args.max_in_flight)] if args.max_in_flight else []
    for name, options in (("no_shedding", ["--max-in-flight", "100000"]), ("shedding", shedding)):
        api, base = start_serve(database, root, key, unlimited_key + options, name=name)
        try:
            pages = crowd_pages(base, key)
            log(f"{name}: {args.clients} clients for {args.crowd_s:.0f} s on {len(pages)} cached pages")
            result[name] = run_crowd(base, key, pages, args.clients, args.crowd_s, root, name)
            log(f"{name}: {result[name]}")
            if name == "shedding":
                result["hostile_keys"] = hostile_keys(base, key, args.hostile_requests, api.popen.pid)
                log(f"hostile keys: {result['hostile_keys']}")
        finally:
            api.stop()
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    off, on = result["no_shedding"], result["shedding"]
    print("\n| run | answered | p50 / p99 / max (ms) | shed (503) | errors |")
    print("|---|---|---|---|---|")
    for label, r in (("shedding off (baseline)", off), ("shedding on (default)", on)):
        print(
            f"| {label} | {r['answered']} ({r['answered_per_s']}/s) | {r.get('p50_ms')} / {r.get('p99_ms')} / {r.get('max_ms')} "
            f"| {r['shed']} | {r['errors']} |"
        )
    print(f"p99 ratio on/off: x{on['p99_ms'] / max(off['p99_ms'], 0.001):.2f}")
    ok = on["errors"] == 0 and on.get("p99_ms", 1e9) <= 1000
    print(f"\n{'OK' if ok else 'FAILED'}: 0 errors and p99 <= 1 s on cached pages with shedding on")
    shutil.rmtree(root, ignore_errors=True)
    return 0 if ok else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hours", type=int, default=720, help="hours in the backfill measured under load")
    parser.add_argument("--seed-hours", type=int, default=24, help="hours loaded before the API starts")
    parser.add_argument("--sales-per-hour", type=float, default=500)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--baseline-s", type=float, default=60)
    parser.add_argument("--timeout", type=float, default=7200)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--crowd", action="store_true", help="only the crowd of issue 26 (see above)")
    parser.add_argument("--crowd-s", type=float, default=60, help="seconds of each crowd run")
    parser.add_argument("--hostile-requests", type=int, default=3000)
    parser.add_argument("--max-in-flight", type=int, default=None, help="the crowd's shedding limit (default: serve's)")
    parser.add_argument(
        "--database", type=Path, default=None, help="the crowd's warehouse (default: filled for the run)"
    )
    parser.add_argument("--load-worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--crowd-worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--pages", help=argparse.SUPPRESS)
    parser.add_argument("--base-url", help=argparse.SUPPRESS)
    parser.add_argument("--hour-keys", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.load_worker:
        return load_worker(args)
    if args.crowd_worker:
        return crowd_worker(args)
    if args.crowd:
        if args.clients == parser.get_default("clients"):
            args.clients = 200
        return crowd_main(args)

    # backfill.py's World reads these; the sandbox keeps its real Verkada limits.
    args.clean, args.rate_limit_per_5s, args.rate_limit_per_minute = False, 25, 300
    keys = hour_keys(args.seed_hours + args.hours, 2)
    seed_keys, measured_keys = keys[: args.seed_hours], keys[args.seed_hours :]
    root = Path(tempfile.mkdtemp(prefix="jd_helix_api_load_"))
    world = World("api_load", root, args, first_partition=keys[0])
    key = new_key()
    api = None
    result: dict = {
        "clients": args.clients,
        "seed_hours": args.seed_hours,
        "hours": args.hours,
        "sales_per_hour": args.sales_per_hour,
    }
    ok = False
    try:
        world.start()
        run_dimensions(world)
        result["seed"] = backfill(world, seed_keys, "seed", args.timeout)
        log(f"seed backfill: {result['seed']}")
        api, base = start_api(world, key)
        log(f"jd-helix serve on {base}; baseline load for {args.baseline_s:.0f} s")
        load = Load(base, key, seed_keys, args.clients, world.dir, "baseline")
        time.sleep(args.baseline_s)
        result["baseline"] = load.finish()
        copies_before = api_status(base, key)["refresh"]["copies"]
        log(f"baseline: {result['baseline']}; now the backfill of {args.hours} hours under load")
        load = Load(base, key, seed_keys, args.clients, world.dir, "backfill")
        result["backfill"] = backfill(world, measured_keys, "measured", args.timeout)
        result["during_backfill"] = load.finish()
        status = api_status(base, key)
        result["api_copies_during_backfill"] = status["refresh"]["copies"] - copies_before
        result["api_as_of_after"] = status["as_of"]
        result["api_latest_sales_hour"] = status["latest_sales_hour"]
        print(json.dumps(result, indent=2))
        print_table(result["baseline"], result["during_backfill"])
        ok = (
            result["baseline"]["errors"] == 0
            and result["during_backfill"]["errors"] == 0
            and result["backfill"]["failed_runs"] == 0
        )
    finally:
        if api is not None:
            api.stop()
        world.stop()
        if args.json:
            args.json.write_text(json.dumps(result, indent=2))
        if ok:
            shutil.rmtree(root, ignore_errors=True)
        else:
            log(f"logs kept in {root}")
    print(
        f"\n{'OK' if ok else 'FAILED'}: 0 errors and 0 failed runs required; backfill of {args.hours} h x {args.sales_per_hour:g} sales in {result.get('backfill', {}).get('wall_s')} s at {datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
