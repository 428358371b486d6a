"""Issue 24: Verkada requests per audited hour, at 1,000 and 100,000 events an hour.

For each size, in one process: a sandbox (clean data, exactly N sales an hour, no server-side
rate limit: the count of requests does not depend on it), the reference data, one hour run
through the real hourly chain (jd_transactions ... helix_events), then the real
`helix_audit` asset over that hour twice:
  1. Helix holds every event: the audit only reads the hour back (event search, 200 a page);
  2. 5 % of the hour's events deleted behind the pipeline's back (as a lost create or a
     deletion in Command leaves them): the audit reads, re-posts them (batch jobs), reads again.
The baseline, measured in the same run, is the requests the hour's posting took
(`helix_events` run/requests). Printed: requests of each, their ratio to posting, and the
minutes the audit needs within its budget (2 requests per 5.3 s, ~22.6 a minute: 10 % of
the org's 300 less the limiter's margins).

Run:  nice -n 10 .venv/bin/python benchmarks/helix_audit.py [--sizes 1000 100000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import dagster as dg  # noqa: E402

from jd_helix.clients.verkada.rate_limit import RateLimitSettings  # noqa: E402
from jd_helix.defs.audit.assets import helix_audit  # noqa: E402
from jd_helix.lib.partitions import partition_key  # noqa: E402
from jd_helix.sandbox import Sandbox, SandboxConfig  # noqa: E402
from jd_helix_tests.e2e.harness import query, recent_hours, refresh_dimensions, resources_for, run_hour  # noqa: E402

LOST_SHARE = 0.05
# The audit budget as the limiter enforces it (audit_budget.py): 3 per 5 s less a margin of 1, per 5.3 s.
BUDGET_PER_MINUTE = RateLimitSettings(requests_per_5s=3, requests_per_minute=30).rates()[0].limit * 60_000 / 5_300


def audit_requests(resources: dict, hour) -> tuple[int, float]:
    started = time.monotonic()
    assert dg.materialize([helix_audit], resources=resources, partition_key=partition_key(hour)).success
    [(requests,)] = query(resources["warehouse"].database, "SELECT sum(requests) FROM helix_audit")
    return int(requests), time.monotonic() - started


def measure(size: int, directory: Path) -> dict:
    config = SandboxConfig(
        seed=24,
        clean=True,
        fixed_sales_per_hour=size,
        rate_limit_per_5s=None,
        rate_limit_per_minute=None,
        batch_delay_s=0.02,
    )
    hour = recent_hours(1)[0]
    with Sandbox.running(config, port=0) as sandbox:
        resources = resources_for(
            sandbox, str(directory / f"audit-{size}.duckdb"), audit_requests_per_5s=None, audit_requests_per_minute=None
        )
        assert refresh_dimensions(resources).success
        result = run_hour(resources, hour)
        assert result.success
        posting = int(result.asset_materializations_for_node("helix_events")[0].metadata["run/requests"].value)
        held = sandbox.helix_events()
        clean, clean_s = audit_requests(resources, hour)
        lost = held[:: int(1 / LOST_SHARE)]
        sandbox.delete_helix_events(lost)
        with_lost, lost_s = audit_requests(resources, hour)
        assert len(sandbox.helix_events()) == len(held), "the audit put every deleted event back"
    return {
        "events": len(held),
        "posting": posting,
        "audit": clean,
        "audit_s": clean_s,
        "lost": len(lost),
        "audit_lost": with_lost,
        "audit_lost_s": lost_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 100_000])
    args = parser.parse_args()
    print(f"audit budget: {BUDGET_PER_MINUTE:.1f} requests/minute (of the org's 300)")
    print(
        "| events in the hour | posting requests (baseline) | audit requests, all held | ratio | "
        "minutes at the budget | audit requests, 5 % lost | ratio | minutes at the budget |"
    )
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    with tempfile.TemporaryDirectory() as directory:
        for size in args.sizes:
            m = measure(size, Path(directory))
            print(
                f"| {m['events']:,} | {m['posting']} | {m['audit']} | {m['audit'] / m['posting']:.2f} | "
                f"{m['audit'] / BUDGET_PER_MINUTE:.1f} | {m['audit_lost']} ({m['lost']:,} re-posted) | "
                f"{m['audit_lost'] / m['posting']:.2f} | {m['audit_lost'] / BUDGET_PER_MINUTE:.1f} |",
                flush=True,
            )
            print(f"  (wall, no rate limit: {m['audit_s']:.1f} s and {m['audit_lost_s']:.1f} s)", flush=True)


if __name__ == "__main__":
    main()
