"""Issue 7: moving one hour of JD sales into DuckDB — jd_helix vs the raw limit vs dlt.

For each hour size (100,000 and 1,000,000 sales by default) a sandbox is started in its
own process (`python -m jd_helix.cli sandbox --clean --fixed-sales-per-hour N`, Verkada
rate limit off: only the JD API is used), and each contender runs in a fresh process of
its own, one after the other, against the same hour:

  raw        requests.Session + orjson.loads of every 1,000-record page, following
             next_cursor: one sequential cursor walk, nothing kept — the physical limit
             of one client over this HTTP server.
  jd_helix   dg.materialize([jd_transactions]) for that hour with the real resources
             (JdApiResource, WarehouseResource on a temp file): fetch, parse, load.
             Run at the default fetch_concurrency (4 windows of the hour paged side by
             side) and at fetch_concurrency=1 (one cursor walk, like raw and dlt).
  dlt        dlt's rest_api source (explicit cursor paginator, data_selector, the
             X-API-Key header, declared column types, max_table_nesting=0) into DuckDB
             with the parquet loader file format and normalize workers = cores.

Rows/s = sales in the hour / wall time of the contender's work (imports excluded; the
run's own setup — Dagster's ephemeral instance, dlt's pipeline — included). The
jd_helix child also reports its peak RSS (ru_maxrss) and the RSS after imports.

Run:  python benchmarks/extract.py [--sales 100000 --sales 1000000] [--only raw,jd_helix,jd_helix_c1,dlt]
          [--latency-ms 20] [--profile-dir DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _memory import peak_rss_bytes, rss_now_bytes  # benchmarks/ is the script's folder
from _step_figures import step_figures

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

HOUR_KEY = "2026-03-02-14:00"  # partition key of the hour benchmarked
START, END = "2026-03-02T14:00:00Z", "2026-03-02T15:00:00Z"
PAGE = 1000
CONTENDERS = ("raw", "jd_helix", "jd_helix_c1", "dlt")


# ----------------------------------------------------------------------------- children


def child_raw(base_url: str, api_key: str) -> dict:
    import orjson
    import requests

    session = requests.Session()
    session.headers["X-API-Key"] = api_key
    url = base_url + "/v1/sales"
    baseline = rss_now_bytes()
    t0 = time.perf_counter()
    params = {"start": START, "end": END, "limit": str(PAGE)}
    rows = pages = 0
    while True:
        body = orjson.loads(session.get(url, params=params).content)
        rows += len(body["data"])
        pages += 1
        cursor = body.get("next_cursor")
        if not cursor:
            break
        params = {**params, "cursor": cursor}
    return {"seconds": time.perf_counter() - t0, "rows": rows, "pages": pages,
            "baseline_rss": baseline, "peak_rss": peak_rss_bytes()}


def child_jd_helix(base_url: str, api_key: str, concurrency: int, profile: str | None) -> dict:
    # Partitions start a few days back by default; the fixed hour benchmarked is older.
    os.environ["JD_HELIX_START"] = HOUR_KEY
    import dagster as dg
    import duckdb

    from jd_helix.assets.sales import jd_transactions
    from jd_helix.resources.jd_api import JdApiResource
    from jd_helix.resources.warehouse import WarehouseResource

    tmp = tempfile.mkdtemp(prefix="jd_helix_bench_")
    database = os.path.join(tmp, "bench.duckdb")
    resources = {
        "jd_api": JdApiResource(base_url=base_url, api_key=api_key, fetch_concurrency=concurrency),
        "warehouse": WarehouseResource(database=database),
    }
    baseline = rss_now_bytes()
    profiler = None
    if profile:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.001, async_mode="disabled")
        profiler.start()
    t0 = time.perf_counter()
    result = dg.materialize([jd_transactions], resources=resources, partition_key=HOUR_KEY)
    seconds = time.perf_counter() - t0
    peak = peak_rss_bytes()
    if profiler is not None:
        profiler.stop()
        Path(profile).write_text(profiler.output_text(unicode=False, color=False, show_all=False))
    assert result.success
    figures = step_figures(result, "jd_transactions")
    with duckdb.connect(database, read_only=True) as conn:
        rows = conn.execute("SELECT count(*) FROM jd_transactions").fetchone()[0]
    return {"seconds": seconds, "rows": rows, "baseline_rss": baseline, "peak_rss": peak,
            "fetch_s": figures["fetch_s"], "asset_s": figures["duration_s"], "pages": figures["pages"]}


def child_dlt(base_url: str, api_key: str) -> dict:
    tmp = tempfile.mkdtemp(prefix="dlt_bench_")
    # dlt's documented performance knobs (reference/performance): normalize in parallel
    # processes, bigger in-memory buffers, no telemetry.
    os.environ.setdefault("NORMALIZE__WORKERS", str(os.cpu_count() or 1))
    os.environ.setdefault("DATA_WRITER__BUFFER_MAX_ITEMS", "50000")
    os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
    os.environ.setdefault("DLT_DATA_DIR", tmp)
    import dlt
    import duckdb
    from dlt.sources.rest_api import rest_api_source

    database = os.path.join(tmp, "bench.duckdb")
    source = rest_api_source(
        {
            "client": {
                "base_url": base_url + "/",
                "headers": {"X-API-Key": api_key},
                "paginator": {"type": "cursor", "cursor_path": "next_cursor", "cursor_param": "cursor"},
            },
            "resource_defaults": {"write_disposition": "append", "max_table_nesting": 0},
            "resources": [
                {
                    "name": "sales",
                    "endpoint": {
                        "path": "v1/sales",
                        "params": {"start": START, "end": END, "limit": PAGE},
                        "data_selector": "data",
                    },
                    # declared up front, so dlt need not infer or evolve the schema
                    "columns": {
                        "transaction_id": {"data_type": "bigint", "nullable": False},
                        "transaction_date": {"data_type": "text"},
                        "transaction_amount": {"data_type": "double"},
                        "item_id": {"data_type": "bigint"},
                        "camera_id": {"data_type": "bigint"},
                    },
                }
            ],
        }
    )
    pipeline = dlt.pipeline(
        pipeline_name="dlt_bench",
        pipelines_dir=os.path.join(tmp, "pipelines"),
        destination=dlt.destinations.duckdb(database),
        dataset_name="jd",
    )
    baseline = rss_now_bytes()
    t0 = time.perf_counter()
    pipeline.run(source, loader_file_format="parquet")
    seconds = time.perf_counter() - t0
    peak = peak_rss_bytes()
    with duckdb.connect(database, read_only=True) as conn:
        rows = conn.execute("SELECT count(*) FROM jd.sales").fetchone()[0]
    return {"seconds": seconds, "rows": rows, "baseline_rss": baseline, "peak_rss": peak}


def run_child(args: argparse.Namespace) -> None:
    if args.child == "raw":
        out = child_raw(args.base_url, args.api_key)
    elif args.child == "jd_helix":
        out = child_jd_helix(args.base_url, args.api_key, args.concurrency, args.profile)
    elif args.child == "dlt":
        out = child_dlt(args.base_url, args.api_key)
    else:
        raise SystemExit(f"unknown child {args.child}")
    print("RESULT " + json.dumps(out), flush=True)


# ----------------------------------------------------------------------------- parent


def _spawn(sb, child: str, *extra: str) -> dict:
    cmd = [sys.executable, __file__, "--child", child, "--base-url", sb.jd_base_url,
           "--api-key", sb.jd_api_key, *extra]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])
    raise RuntimeError(f"{child} failed (exit {proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}")


def _mib(b: float) -> str:
    return f"{b / 2**20:,.0f} MiB"


def bench_size(n: int, only: list[str], profile_dir: str | None, latency_ms: float) -> dict[str, dict]:
    from _sandbox_proc import sandbox_process

    results: dict[str, dict] = {}
    args = ["--fixed-sales-per-hour", str(n), "--clean", "--rate-limit-per-5s", "0", "--rate-limit-per-minute", "0"]
    if latency_ms:
        args += ["--fault-api", "jd", "--fault-latency-ms", str(latency_ms)]
    with sandbox_process(*args) as sb:
        for name in only:
            extra: list[str] = []
            child = name
            if name.startswith("jd_helix"):
                child = "jd_helix"
                extra = ["--concurrency", "1" if name == "jd_helix_c1" else "4"]
                if profile_dir:
                    extra += ["--profile", os.path.join(profile_dir, f"{name}_{n}.txt")]
            r = _spawn(sb, child, *extra)
            results[name] = r
            if r["rows"] != n:
                print(f"  !! {name} loaded {r['rows']:,} rows, expected {n:,}")
            line = f"  {name:<12} {r['seconds']:7.2f} s  {n / r['seconds']:>10,.0f} rows/s"
            if name.startswith("jd_helix"):
                line += (f"  (fetch {r['fetch_s']:.2f} s, asset body {r['asset_s']:.2f} s; "
                         f"peak RSS {_mib(r['peak_rss'])}, +{_mib(r['peak_rss'] - r['baseline_rss'])} over "
                         f"{_mib(r['baseline_rss'])} after imports)")
            elif name == "dlt":
                line += f"  (peak RSS {_mib(r['peak_rss'])} in the main process)"
            print(line, flush=True)
    return results


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sales", type=int, action="append", help="sales in the hour (repeatable); default 100,000 and 1,000,000")
    p.add_argument("--only", default=",".join(CONTENDERS), help=f"comma-separated subset of {CONTENDERS}")
    p.add_argument("--latency-ms", type=float, default=0.0,
                   help="network latency the sandbox adds to every JD request (a WAN, not loopback)")
    p.add_argument("--profile-dir", help="write a pyinstrument profile of each jd_helix run here")
    p.add_argument("--child", help=argparse.SUPPRESS)
    p.add_argument("--base-url", help=argparse.SUPPRESS)
    p.add_argument("--api-key", help=argparse.SUPPRESS)
    p.add_argument("--concurrency", type=int, default=4, help=argparse.SUPPRESS)
    p.add_argument("--profile", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        run_child(args)
        return

    sizes = args.sales or [100_000, 1_000_000]
    only = [c.strip() for c in args.only.split(",") if c.strip()]
    if args.profile_dir:
        os.makedirs(args.profile_dir, exist_ok=True)
    print(f"one hour of N sales in 1,000-record pages; sandbox in its own process; {os.cpu_count()} cores"
          + (f"; +{args.latency_ms:g} ms latency per request" if args.latency_ms else ""))
    all_results = {}
    for n in sizes:
        print(f"\nN = {n:,}")
        all_results[n] = res = bench_size(n, only, args.profile_dir, args.latency_ms)
        rate = {k: n / v["seconds"] for k, v in res.items()}
        for jd in ("jd_helix", "jd_helix_c1"):
            if jd not in rate:
                continue
            parts = []
            if "raw" in rate:
                r = rate[jd] / rate["raw"]
                parts.append(f"{jd} / raw = {r:.2f}x (target >= 0.8x: {'met' if r >= 0.8 else 'MISSED'})")
            if "dlt" in rate:
                r = rate[jd] / rate["dlt"]
                parts.append(f"{jd} / dlt = {r:.2f}x (target >= 2x: {'met' if r >= 2 else 'MISSED'})")
            if "raw" in rate:
                fetch = res[jd]["fetch_s"]
                parts.append(f"fetch phase alone / raw = {res['raw']['seconds'] / fetch:.2f}x "
                             f"(the rest is Dagster's run overhead and the DuckDB load)")
            if parts:
                print("  " + ";  ".join(parts))
    if "jd_helix" in only and len(sizes) > 1:
        small, big = min(sizes), max(sizes)
        ps, pb = all_results[small]["jd_helix"]["peak_rss"], all_results[big]["jd_helix"]["peak_rss"]
        bs, bb = (all_results[small]["jd_helix"]["baseline_rss"], all_results[big]["jd_helix"]["baseline_rss"])
        print(f"\njd_transactions peak RSS: {_mib(ps)} at {small:,}, {_mib(pb)} at {big:,} "
              f"(ratio {pb / ps:.2f}x, target <= 2x: {'met' if pb <= 2 * ps else 'MISSED'}; "
              f"<= 1 GiB at {big:,}: {'met' if pb <= 2**30 else 'MISSED'}); "
              f"growth over baseline: +{_mib(ps - bs)} vs +{_mib(pb - bb)}")


if __name__ == "__main__":
    main()
