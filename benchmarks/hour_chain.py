"""Issue 16: one hour of N sales through the whole chain, JD → DuckDB → join → exception flags (issue 23) → Helix.

A sandbox runs in its own process (`python -m jd_helix.cli sandbox --clean
--fixed-sales-per-hour N`, its server-side Verkada limit on: 25 per 5 s, 300 per minute,
a breach answered 429 with a 5 s cooldown). A fresh child process then materializes, with
the real resources on a temp DuckDB file:

  1. the dimensions (JD stores, tills, cameras, items; Verkada cameras) — set-up, not timed;
  2. the hour: `jd_transactions` → `transaction_camera_events` → `helix_events` (with
     `helix_event_type`), one `dg.materialize` for one partition — timed.

The hour is a fixed one inside Helix's 30-day window (the hour that began 3 hours ago by
default), and every hour of this sandbox holds exactly N sales, so the volume does not
depend on the clock. Printed: wall time of the hour, each asset's own `duration_s`, the peak
RSS of the child (`ru_maxrss`; `dg.materialize` runs every step in that one process, so it
is the process tree's peak; the sandbox process is the stand-in API and not counted), and
the Verkada requests of the hour (the sandbox's own count) against their floor, requests ÷
5 per second, for the hour and for the `helix_events` step alone. Afterwards the sandbox's
store is checked: every posted sale is one Helix event. `helix_events` is split into its
pinning (triples and outbox, before the first event request: `pin_s`) and its posting (`post_s`).

With `--baseline-tree DIR` (another source tree, e.g. `git archive 031987a | tar -x -C DIR`;
repeatable), each size runs first wholly from each such tree (its sandbox, its jd_helix; a tree
from before the exception flags has no `transaction_exceptions` step), then from this one, back
to back; this one is compared with each.

`--cpu-load K` runs K busy processes (a Python loop each, at the benchmark's own nice level)
while the hour runs: the 2 cores shared with other sessions, made repeatable. The posting is
paced by the rate limit on a quiet machine; under load, each request's latency (the client's
and the sandbox's work for it) decides whether a request is ready when the limiter's next slot
opens, and a slot missed is never made up.

Run:  python benchmarks/hour_chain.py [--sales 100000] [--sales 1000000] [--hours-ago 3]
          [--profile FILE]   # pyinstrument profile of the hour (text)
          [--baseline-tree DIR] [--cpu-load K]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from _memory import RssSampler, peak_rss_bytes, rss_now_bytes  # benchmarks/ is the script's folder
from _step_figures import step_figures

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

ALLOWED_PER_S = 25 / 5  # the org's limit: 25 per 5 s (300 per minute is the same rate)
CHAIN = ("jd_transactions", "transaction_camera_events", "transaction_exceptions", "helix_events")


def child(args: argparse.Namespace) -> None:
    if args.tree:  # the baseline's jd_helix, not this tree's (sys.path wins over the editable install)
        sys.path.insert(0, args.tree)
    import dagster as dg
    import duckdb

    from jd_helix.defs.helix.assets import helix_event_type, helix_events
    from jd_helix.defs.hourly_sales.camera_events import transaction_camera_events
    from jd_helix.defs.hourly_sales.transactions import jd_transactions
    from jd_helix.defs.reference_data.assets import jd_dimension_assets, verkada_cameras
    from jd_helix.resources.helix_settings import HelixSettings
    from jd_helix.resources.jd_api import JdApiResource
    from jd_helix.resources.verkada import VerkadaResource
    from jd_helix.resources.warehouse import WarehouseResource

    database = os.path.join(tempfile.mkdtemp(prefix="hour_chain_"), "bench.duckdb")
    resources = {
        "jd_api": JdApiResource(base_url=args.jd_base_url, api_key=args.jd_api_key),
        "verkada": VerkadaResource(base_url=args.verkada_base_url, api_key=args.verkada_api_key),
        "warehouse": WarehouseResource(database=database),
        "helix_settings": HelixSettings(),
    }
    chain = [jd_transactions, transaction_camera_events]
    try:  # a tree from before the exception flags (issue 23) has none
        from jd_helix.defs.exceptions.assets import transaction_exceptions
        from jd_helix.resources.exception_settings import ExceptionSettings

        chain.append(transaction_exceptions)
        resources["exception_settings"] = ExceptionSettings()
    except ImportError:
        pass
    chain += [helix_event_type, helix_events]
    dimensions = [*jd_dimension_assets, verkada_cameras]
    assert dg.materialize(dimensions, resources=resources).success
    baseline = rss_now_bytes()
    print("DIMENSIONS_DONE", flush=True)  # the parent reads the sandbox's request count here
    input()

    profiler = None
    if args.profile:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.001, async_mode="disabled")
        profiler.start()
    instance = dg.DagsterInstance.ephemeral()  # its event log gives each step's start and end
    t0 = time.perf_counter()
    with RssSampler() as sampler:
        result = dg.materialize(
            [*dimensions, *chain],
            selection=chain,
            resources=resources,
            partition_key=args.hour_key,
            instance=instance,
        )
    seconds = time.perf_counter() - t0
    peak = peak_rss_bytes()  # before the checks below read the ledger back
    if profiler is not None:
        profiler.stop()
        Path(args.profile).write_text(profiler.output_text(unicode=False, color=False, show_all=False))
    assert result.success
    steps = {}
    for name in CHAIN:
        if name not in {asset.key.to_user_string() for asset in chain}:
            continue  # not in this tree
        figures = step_figures(result, name)
        steps[name] = {
            k: v
            for k, v in figures.items()
            if k
            in (
                "duration_s",
                "fetch_s",
                "pin_s",
                "post_s",
                "requests",
                "rate_limited_429",
                "posted_this_run",
                "failed_this_run",
                "skipped_this_run",
                "dagster/row_count",
            )
        }
    with duckdb.connect(database, read_only=True) as conn:
        posted = conn.execute("SELECT transaction_id FROM helix_events WHERE status = 'posted'").fetchall()
        counts = dict(conn.execute("SELECT status, count(*) FROM helix_events GROUP BY 1").fetchall())
        flagged = {"flagged": 0, "refunds": 0}
        if "exception_settings" in resources:
            row = conn.execute("SELECT count(*), count(*) FILTER (WHERE refund) FROM transaction_exceptions").fetchone()
            flagged = dict(zip(("flagged", "refunds"), row or (0, 0), strict=True))
    shutil.rmtree(os.path.dirname(database), ignore_errors=True)  # ~100 MB at 1,000,000 sales
    out = {
        "seconds": seconds,
        "baseline_rss": baseline,
        "peak_rss": peak,
        "step_peak_rss": _step_peaks(instance, result.run_id, sampler),
        "steps": steps,
        "ledger": counts,
        "flagged": flagged,
        "posted_ids": [p[0] for p in posted],
    }
    print("RESULT " + json.dumps(out), flush=True)


def _step_peaks(instance, run_id: str, sampler: RssSampler) -> dict[str, int]:
    """Each step's peak RSS: the highest sample between its STEP_START and its end."""
    starts, ends = {}, {}
    for entry in instance.all_logs(run_id):
        event = entry.dagster_event
        if event is None or event.step_key is None:
            continue
        if event.event_type_value == "STEP_START":
            starts[event.step_key] = entry.timestamp
        elif event.event_type_value in ("STEP_SUCCESS", "STEP_FAILURE"):
            ends[event.step_key] = entry.timestamp
    return {step: sampler.peak_between(starts[step], ends.get(step, time.time())) for step in CHAIN if step in starts}


def _verkada_requests(sb) -> tuple[int, int]:
    """(requests, 429s) the sandbox's Verkada side has answered so far."""
    total = refused = 0
    for s in sb.admin("stats")["stats"]:
        if s["api"] == "verkada":
            total += s["count"]
            refused += s["count"] if s["status"] == 429 else 0
    return total, refused


def run(n: int, hours_ago: int, profile: str | None, tree: Path = ROOT, cpu_load: int = 0) -> dict:
    """The chain for one hour of `n` sales, wholly from the source tree `tree` (sandbox and child)."""
    from _sandbox_proc import sandbox_process

    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=hours_ago)
    hour_key = hour.strftime("%Y-%m-%d-%H:%M")
    # The child's log (Dagster's events) goes to a file, shown if it fails.
    with (
        sandbox_process("--clean", "--fixed-sales-per-hour", str(n), root=tree) as sb,
        tempfile.TemporaryFile("w+") as log,
    ):
        cmd = [
            sys.executable,
            __file__,
            "--child",
            "--hour-key",
            hour_key,
            "--jd-base-url",
            sb.jd_base_url,
            "--jd-api-key",
            sb.jd_api_key,
            "--verkada-base-url",
            sb.verkada_base_url,
            "--verkada-api-key",
            sb.verkada_api_key,
        ]
        if profile:
            cmd += ["--profile", profile]
        if tree != ROOT:
            cmd += ["--tree", str(tree)]
        proc = subprocess.Popen(cmd, cwd=tree, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True)
        assert proc.stdin is not None and proc.stdout is not None
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("DIMENSIONS_DONE"):
                break
        before, _ = _verkada_requests(sb)
        busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(cpu_load)]
        try:
            proc.stdin.write("\n")
            proc.stdin.flush()
            lines += proc.stdout.readlines()
            proc.wait()
        finally:
            for loop in busy:
                loop.kill()
                loop.wait()
        after, refused = _verkada_requests(sb)
        result = next((json.loads(x[len("RESULT ") :]) for x in lines if x.startswith("RESULT ")), None)
        if proc.returncode or result is None:
            log.seek(0)
            raise RuntimeError(
                f"the chain failed (exit {proc.returncode}):\n{''.join(lines)[-2000:]}{log.read()[-4000:]}"
            )
        # Every posted sale is one event of the sandbox's store, written once.
        events = sb.admin("events")["events"]
        held = {e["attributes"].get("transaction_id") for e in events}
        refunds_in_helix = sum(1 for e in events if e["attributes"].get("refund") is True)
        writes = len(sb.admin("writes")["writes"])
    posted = set(result.pop("posted_ids"))
    result.update(
        n=n,
        tree=str(tree),
        cpu_load=cpu_load,
        hour_key=hour_key,
        requests=after - before,
        server_429=refused,
        refunds_in_helix=refunds_in_helix,
        store_ok=posted <= held and len(held) == len(posted) == writes,
        store_msg=f"{len(posted):,} posted in the ledger, {len(held):,} events and {writes:,} writes in Helix",
        tree_peak_rss=peak_rss_bytes(resource.RUSAGE_CHILDREN),
    )
    return result


def report(r: dict) -> None:
    mib = 2**20
    helix = r["steps"]["helix_events"]
    floor = r["requests"] / ALLOWED_PER_S
    helix_floor = helix["requests"] / ALLOWED_PER_S
    exceptions = r["steps"].get("transaction_exceptions")
    exceptions_s = f"{exceptions['duration_s']:.1f} s" if exceptions else "none (not in this tree)"
    load = f" (+{r['cpu_load']} busy processes)" if r["cpu_load"] else ""
    print(
        f"\n{r['tree']}{load}\nN = {r['n']:,} sales in hour {r['hour_key']}: {r['seconds']:.1f} s for the hour "
        f"(jd_transactions {r['steps']['jd_transactions']['duration_s']:.1f} s, of which fetch "
        f"{r['steps']['jd_transactions']['fetch_s']:.1f} s; transaction_camera_events "
        f"{r['steps']['transaction_camera_events']['duration_s']:.1f} s; transaction_exceptions "
        f"{exceptions_s}; helix_events {helix['duration_s']:.1f} s: "
        f"pinning {helix['pin_s']:.1f} s, posting {helix['post_s']:.1f} s)"
    )
    print(
        f"  peak RSS {r['peak_rss'] / mib:,.0f} MiB (after imports and dimensions "
        f"{r['baseline_rss'] / mib:,.0f} MiB; largest process of the tree {r['tree_peak_rss'] / mib:,.0f} MiB)"
    )
    print(
        "  peak RSS per step (sampled every 20 ms): "
        + ", ".join(f"{step} {peak / mib:,.0f} MiB" for step, peak in r["step_peak_rss"].items())
    )
    print(
        f"  Verkada requests of the hour: {r['requests']} (floor {floor:.1f} s at 5/s; the hour took "
        f"{r['seconds'] / floor:.2f}x of it); helix_events: {helix['requests']} requests, floor "
        f"{helix_floor:.1f} s -> {helix['duration_s'] / helix_floor:.2f}x (its posting alone "
        f"{helix['post_s'] / helix_floor:.2f}x); 429s: sandbox sent {r['server_429']}, "
        f"client saw {helix['rate_limited_429']}"
    )
    print(f"  ledger {r['ledger']}; {r['store_msg']}: {'exactly once' if r['store_ok'] else 'MISMATCH'}")
    posted = r["ledger"].get("posted", 0)
    print(
        f"  exceptions: {r['flagged']['flagged']:,} flagged, {r['flagged']['refunds']:,} refunds; "
        f"{r['refunds_in_helix']:,} events with refund=true in Helix; Verkada requests per posted event "
        f"{helix['requests'] / max(posted, 1):.5f}"
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sales", type=int, action="append", help="sales in the hour (repeatable); default 100,000")
    p.add_argument("--hours-ago", type=int, default=3, help="the hour benchmarked began this many hours ago")
    p.add_argument("--profile", help="write a pyinstrument profile of the hour here (one size only)")
    p.add_argument(
        "--baseline-tree",
        action="append",
        default=[],
        help="another source tree (repeatable): each size runs from it first, then from this one",
    )
    p.add_argument("--cpu-load", type=int, default=0, help="busy processes running beside the hour (default 0)")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    for name in ("hour-key", "jd-base-url", "jd-api-key", "verkada-base-url", "verkada-api-key", "tree"):
        p.add_argument(f"--{name}", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        child(args)
        return
    print(
        f"one hour through jd_transactions -> transaction_camera_events -> helix_events; sandbox in its own "
        f"process with Verkada's limit on; {os.cpu_count()} cores"
    )
    for n in args.sales or [100_000]:
        baselines = []
        for tree in args.baseline_tree:
            baselines.append(run(n, args.hours_ago, None, Path(tree).resolve(), args.cpu_load))
            report(baselines[-1])
        after = run(n, args.hours_ago, args.profile, ROOT, args.cpu_load)
        report(after)
        now = after["steps"]["helix_events"]
        for before in baselines:
            was = before["steps"]["helix_events"]
            print(
                f"  this tree / {before['tree']}: hour {after['seconds'] / before['seconds']:.2f}x, helix_events "
                f"{now['duration_s'] / was['duration_s']:.2f}x (pinning {now['pin_s'] / was['pin_s']:.2f}x, "
                f"posting {now['post_s'] / was['post_s']:.2f}x)"
            )


if __name__ == "__main__":
    main()
