"""Chaos, full form: many hours against a sandbox with every fault on, retried until quiet.

    .venv/bin/python benchmarks/chaos.py                 # 6 hours, ~500 sales an hour
    .venv/bin/python benchmarks/chaos.py --hours 12 --sales-per-hour 800 --error-rate 0.15

Faults (issue 8): ~10% 5xx on both APIs, 429 bursts on both (at the start and again before
every other hour), Verkada tokens that expire every 20 s, dropped connections (before an
answer, and after a Verkada write was applied), one non-JSON sales page and one non-JSON
Verkada answer. The Verkada org rate limit is the real one (300/min, 25 per 5 s).
The retry machinery works until quiet (urllib3 retries, run retries as dagster.yaml sets
them, helix_retry_sensor ticked until it asks for nothing), faults still on; then DuckDB
is compared with the sandbox's truth and Helix with the postable sales.

Prints the faults injected (from the sandbox's stats), the retries spent, the final
counts and the verdict; exits 1 if any check fails. The reduced form runs in CI:
jd_helix_tests/chaos/test_chaos.py.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from jd_helix.resources.helix_settings import HelixSettings
from jd_helix.resources.jd_api import JdApiResource
from jd_helix.sandbox import Sandbox, SandboxConfig
from jd_helix_tests.chaos.harness import (
    check_against_truth,
    faults_injected,
    run_until_quiet,
    shipped_run_retries,
)
from jd_helix_tests.e2e.harness import recent_hours, resources_for

QUIET = {"run_config": {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hours", type=int, default=6)
    parser.add_argument("--sales-per-hour", type=float, default=500)
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--error-rate", type=float, default=0.10)
    parser.add_argument("--drop-rate", type=float, default=0.03)
    parser.add_argument("--drop-after-apply", type=float, default=0.05)
    parser.add_argument("--burst", type=int, default=4, help="429s per burst")
    parser.add_argument("--token-ttl-s", type=float, default=20)
    parser.add_argument("--verkada-latency-ms", type=float, default=300)
    parser.add_argument("--batch-size", type=int, default=50, help="events per Helix batch (smaller: more requests)")
    parser.add_argument("--page-size", type=int, default=100, help="JD records per page (smaller: more requests)")
    args = parser.parse_args()

    faults = [
        {"api": "both", "error_rate": args.error_rate, "drop_rate": args.drop_rate, "burst_429": args.burst},
        {"api": "jd", "non_json_page": 2},
        # A slow Verkada (latency_ms) makes each hour's posting outlive a 20 s token.
        {
            "api": "verkada",
            "drop_after_apply": args.drop_after_apply,
            "non_json": 1,
            "latency_ms": args.verkada_latency_ms,
        },
        {"token_ttl_s": args.token_ttl_s},
    ]
    hours = recent_hours(args.hours)
    config = SandboxConfig(seed=args.seed, sales_per_hour=args.sales_per_hour, faults=faults)
    started = time.monotonic()
    verdict, counts, problem = "FAIL", {}, None
    with tempfile.TemporaryDirectory() as tmp, Sandbox.running(config, port=0) as sandbox:
        database = str(Path(tmp) / "chaos.duckdb")
        resources = resources_for(sandbox, database, rate_limited=True, batch_size=args.batch_size)
        resources["jd_api"] = JdApiResource(
            base_url=sandbox.jd_base_url, api_key=sandbox.jd_api_key, page_size=args.page_size
        )
        resources["helix_settings"] = HelixSettings(retry_base_minutes=0.0001)

        def before_hour(index: int) -> None:
            if index % 2 == 1:  # another 429 storm on both APIs
                sandbox.faults.update(api="both", burst_429=args.burst)

        print(
            f"chaos: {args.hours} hours from {hours[0]:%Y-%m-%d %H:00} UTC, seed {args.seed}, faults {faults}",
            flush=True,
        )
        try:
            figures = run_until_quiet(resources, hours, before_hour=before_hour, run_kwargs=QUIET)
        except Exception:  # noqa: BLE001 - reported as the verdict
            figures, problem = None, traceback.format_exc()
        if problem is None:
            try:
                counts = check_against_truth(sandbox, database, hours)
                verdict = "PASS"
            except AssertionError as error:
                problem = f"check failed: {error}"
        injected = faults_injected(sandbox)
        tokens_issued = len(sandbox.helix.tokens)
    elapsed = time.monotonic() - started

    print(f"\nfaults injected (sandbox stats), in {elapsed:.0f} s:")
    for name, count in injected.items():
        print(f"  {name:36} {count:>8,}")
    print(f"  {'non-JSON answers (configured)':36} {2:>8,}")
    print(f"  {'Verkada tokens issued':36} {tokens_issued:>8,}")
    if figures is not None:
        meta = figures.metadata
        jd_requests = sum(v for k, v in meta.items() if k.startswith("jd_") and k.endswith("/requests"))
        jd_pages = sum(v for k, v in meta.items() if k.startswith("jd_") and k.endswith("/pages"))
        print("\nretries spent:")
        print(f"  {'runs executed':36} {figures.runs:>8,}")
        print(f"  {'runs failed':36} {figures.failed_runs:>8,}")
        print(f"  {'run retries (max ' + str(shipped_run_retries()) + ' per run)':36} {figures.run_retries:>8,}")
        print(f"  {'retry sensor ticks':36} {figures.sensor_ticks:>8,}")
        print(f"  {'runs the sensor launched':36} {figures.sensor_runs:>8,}")
        print(f"  {'JD HTTP attempts / pages (successful)':36} {jd_requests:>8,} / {jd_pages:,}")
        print(f"  {'JD HTTP retries (attempts - pages)':36} {jd_requests - jd_pages:>8,}")
        print(f"  {'Verkada HTTP attempts (helix_events)':36} {meta['helix_events/requests']:>8,}")
        print(f"  {'Verkada 429s waited out (client)':36} {meta['helix_events/rate_limited_429']:>8,}")
        for failure in figures.step_failures:
            print(f"  step failure: {failure}")
    print("\nfinal counts:")
    for name, count in counts.items():
        print(f"  {name:36} {count:>8,}")
    if problem:
        print(f"\n{problem}")
    print(f"\nverdict: {verdict}")
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
