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
  dagster_empty
             dg.materialize of an hourly asset that does nothing, with the same resources
             and partition: Dagster's own fixed cost per materialization (run setup and
             teardown, event log, the lazy imports of a first run), for the breakdown.
  jd_helix@baseline
             jd_helix (fetch_concurrency 4) from another source tree (`--baseline-tree`,
             e.g. an export of main), against the same sandbox in the same run.
  dlt        dlt's rest_api source (explicit cursor paginator, data_selector, the
             X-API-Key header, declared column types, max_table_nesting=0) into DuckDB
             with the parquet loader file format and normalize workers = cores.

Rows/s = sales in the hour / wall time of the contender's work: imports excluded, and
for Dagster the run alone, its instance created before the clock starts (as a run worker
has it; dlt's pipeline object is made before its clock too). The instance's creation is
timed apart and shown, with the cold total and the ratio it gives. The jd_helix child
also reports its peak RSS (ru_maxrss) and the RSS after imports.

Run:  python benchmarks/extract.py [--sales 100000 --sales 1000000]
          [--only raw,dagster_empty,jd_helix,jd_helix_c1,dlt] [--baseline-tree DIR]
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
CONTENDERS = ("raw", "dagster_empty", "jd_helix", "jd_helix_c1", "dlt")
BASELINE = "jd_helix@baseline"


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
    return {
        "seconds": time.perf_counter() - t0,
        "rows": rows,
        "pages": pages,
        "baseline_rss": baseline,
        "peak_rss": peak_rss_bytes(),
    }


def child_dagster_empty(base_url: str, api_key: str) -> dict:
    os.environ["JD_HELIX_START"] = HOUR_KEY
    from _empty_hourly_asset import empty_hourly_asset

    from jd_helix.resources.jd_api import JdApiResource
    from jd_helix.resources.warehouse import WarehouseResource

    database = os.path.join(tempfile.mkdtemp(prefix="jd_helix_bench_"), "bench.duckdb")
    resources = {
        "jd_api": JdApiResource(base_url=base_url, api_key=api_key),
        "warehouse": WarehouseResource(database=database),
    }
    baseline = rss_now_bytes()
    result, timing = _materialize_timed(empty_hourly_asset, resources)
    assert result.success
    return {**timing, "rows": 0, "baseline_rss": baseline, "peak_rss": peak_rss_bytes()}


def _materialize_timed(asset, resources: dict):
    """dg.materialize of the hour with Dagster's ephemeral instance created first and timed
    apart ("instance_s": its first creation in a process imports the storage layer,
    SQLAlchemy and Alembic). "seconds" is the run alone: in production the run worker
    (`dagster api execute_run`) has loaded its instance before the run starts, so that cost
    is the worker's, not the run's (dlt's pipeline object is likewise made before its clock
    starts). "with_instance_s" is both, the cold `dg.materialize` figure."""
    import dagster as dg

    t0 = time.perf_counter()
    with dg.DagsterInstance.ephemeral() as instance:
        t1 = time.perf_counter()
        result = dg.materialize([asset], resources=resources, partition_key=HOUR_KEY, instance=instance)
        run_s = time.perf_counter() - t1
    return result, {"seconds": run_s, "instance_s": t1 - t0, "with_instance_s": t1 - t0 + run_s}


def child_jd_helix(base_url: str, api_key: str, concurrency: int, profile: str | None, tree: str | None) -> dict:
    # Partitions start a few days back by default; the fixed hour benchmarked is older.
    os.environ["JD_HELIX_START"] = HOUR_KEY
    if tree:  # the baseline's jd_helix, not this tree's (sys.path wins over the editable install)
        sys.path.insert(0, tree)
    import duckdb

    import jd_helix
    from jd_helix.defs.hourly_sales.transactions import jd_transactions
    from jd_helix.resources.jd_api import JdApiResource
    from jd_helix.resources.warehouse import WarehouseResource

    assert Path(jd_helix.__file__).resolve().parent.parent == Path(tree or ROOT).resolve(), jd_helix.__file__

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
    result, timing = _materialize_timed(jd_transactions, resources)
    peak = peak_rss_bytes()
    if profiler is not None:
        profiler.stop()
        Path(profile).write_text(profiler.output_text(unicode=False, color=False, show_all=False))
    assert result.success
    figures = step_figures(result, "jd_transactions")
    with duckdb.connect(database, read_only=True) as conn:
        rows = conn.execute("SELECT count(*) FROM jd_transactions").fetchone()[0]
    return {
        **timing,
        "rows": rows,
        "baseline_rss": baseline,
        "peak_rss": peak,
        "fetch_s": figures["fetch_s"],
        "asset_s": figures["duration_s"],
        "pages": figures["pages"],
        "write_s": figures.get("write_s"),
    }


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
    elif args.child == "dagster_empty":
        out = child_dagster_empty(args.base_url, args.api_key)
    elif args.child == "jd_helix":
        out = child_jd_helix(args.base_url, args.api_key, args.concurrency, args.profile, args.tree)
    elif args.child == "dlt":
        out = child_dlt(args.base_url, args.api_key)
    else:
        raise SystemExit(f"unknown child {args.child}")
    print("RESULT " + json.dumps(out), flush=True)


# ----------------------------------------------------------------------------- parent


def _spawn(sb, child: str, *extra: str) -> dict:
    cmd = [sys.executable, __file__, "--child", child, "--base-url", sb.jd_base_url, "--api-key", sb.jd_api_key, *extra]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT ") :])
    raise RuntimeError(f"{child} failed (exit {proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}")


def _mib(b: float) -> str:
    return f"{b / 2**20:,.0f} MiB"


def bench_size(
    n: int, only: list[str], profile_dir: str | None, latency_ms: float, baseline_tree: str | None
) -> dict[str, dict]:
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
                if name == BASELINE:
                    extra += ["--tree", baseline_tree]
                if profile_dir:
                    extra += ["--profile", os.path.join(profile_dir, f"{name}_{n}.txt")]
            r = _spawn(sb, child, *extra)
            results[name] = r
            if name != "dagster_empty" and r["rows"] != n:
                print(f"  !! {name} loaded {r['rows']:,} rows, expected {n:,}")
            line = f"  {name:<17} {r['seconds']:7.2f} s  {n / r['seconds']:>10,.0f} rows/s"
            if "instance_s" in r:
                line += f"  [+ Dagster instance {r['instance_s']:.2f} s = {r['with_instance_s']:.2f} s cold]"
            if name.startswith("jd_helix"):
                write = f", warehouse write {r['write_s']:.2f} s" if r.get("write_s") is not None else ""
                line += (
                    f"  (fetch {r['fetch_s']:.2f} s, asset body {r['asset_s']:.2f} s{write}; "
                    f"peak RSS {_mib(r['peak_rss'])}, +{_mib(r['peak_rss'] - r['baseline_rss'])} over "
                    f"{_mib(r['baseline_rss'])} after imports)"
                )
            elif name == "dlt":
                line += f"  (peak RSS {_mib(r['peak_rss'])} in the main process)"
            print(line, flush=True)
    return results


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--sales", type=int, action="append", help="sales in the hour (repeatable); default 100,000 and 1,000,000"
    )
    p.add_argument("--only", default=",".join(CONTENDERS), help=f"comma-separated subset of {CONTENDERS}")
    p.add_argument(
        "--latency-ms",
        type=float,
        default=0.0,
        help="network latency the sandbox adds to every JD request (a WAN, not loopback)",
    )
    p.add_argument("--profile-dir", help="write a pyinstrument profile of each jd_helix run here")
    p.add_argument(
        "--baseline-tree",
        help=f"also run {BASELINE}: jd_transactions from this source tree (e.g. `git archive main | tar -x -C DIR`)",
    )
    p.add_argument("--tree", help=argparse.SUPPRESS)
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
    if args.baseline_tree:
        args.baseline_tree = str(Path(args.baseline_tree).resolve())
        only.insert(only.index("jd_helix") if "jd_helix" in only else len(only), BASELINE)
    if args.profile_dir:
        os.makedirs(args.profile_dir, exist_ok=True)
    print(
        f"one hour of N sales in 1,000-record pages; sandbox in its own process; {os.cpu_count()} cores"
        + (f"; +{args.latency_ms:g} ms latency per request" if args.latency_ms else "")
    )
    all_results = {}
    for n in sizes:
        print(f"\nN = {n:,}")
        all_results[n] = res = bench_size(n, only, args.profile_dir, args.latency_ms, args.baseline_tree)
        summarise_size(res)
    for name in ("jd_helix", BASELINE):
        if name in only and len(sizes) > 1:
            summarise_memory(name, {n: all_results[n][name] for n in sizes})


def summarise_size(res: dict[str, dict]) -> None:
    """Ratios within this size's run (issue 16's targets), and where the non-fetch time goes."""
    seconds = {k: v["seconds"] for k, v in res.items()}
    for jd in ("jd_helix", BASELINE, "jd_helix_c1"):
        if jd not in res:
            continue
        parts = []
        if "raw" in res:
            r = seconds["raw"] / seconds[jd]
            parts.append(
                f"{jd} / raw = {r:.2f}x (target >= 0.9x: {'met' if r >= 0.9 else 'MISSED'}; "
                f"cold, with the instance: {seconds['raw'] / res[jd]['with_instance_s']:.2f}x); "
                f"fetch phase alone / raw = {seconds['raw'] / res[jd]['fetch_s']:.2f}x"
            )
        if "dlt" in res:
            r = seconds["dlt"] / seconds[jd]
            parts.append(f"{jd} / dlt = {r:.2f}x (target >= 3x: {'met' if r >= 3 else 'MISSED'})")
        if parts:
            print("  " + ";  ".join(parts))
        # The wall time beyond the fetch: Dagster's own run cost (the empty asset), the
        # rest of the asset body (the warehouse write, figures, metadata), and what is left.
        beyond = seconds[jd] - res[jd]["fetch_s"]
        body_rest = res[jd]["asset_s"] - res[jd]["fetch_s"]
        line = f"    {jd}: {beyond:.2f} s beyond the fetch = asset body after the fetch {body_rest:.2f} s"
        if res[jd].get("write_s") is not None:
            line += f" (warehouse write {res[jd]['write_s']:.2f} s)"
        line += f" + outside the asset body {seconds[jd] - res[jd]['asset_s']:.2f} s"
        if "dagster_empty" in res:
            line += f" (an empty asset's whole run: {seconds['dagster_empty']:.2f} s)"
        print(line)


def summarise_memory(name: str, by_size: dict[int, dict]) -> None:
    small, big = min(by_size), max(by_size)
    ps, pb = by_size[small]["peak_rss"], by_size[big]["peak_rss"]
    bs, bb = by_size[small]["baseline_rss"], by_size[big]["baseline_rss"]
    print(
        f"\n{name} peak RSS: {_mib(ps)} at {small:,}, {_mib(pb)} at {big:,} "
        f"(ratio {pb / ps:.2f}x, target <= 1.3x: {'met' if pb <= 1.3 * ps else 'MISSED'}; "
        f"<= 512 MiB at {big:,}: {'met' if pb <= 512 * 2**20 else 'MISSED'}); "
        f"growth over the RSS after imports: +{_mib(ps - bs)} vs +{_mib(pb - bb)}"
    )


if __name__ == "__main__":
    main()
