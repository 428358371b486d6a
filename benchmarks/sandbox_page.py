"""How fast the sandbox serves a 1,000-record sales page, and how much memory a
1,000,000-sale hour costs. Run: python benchmarks/sandbox_page.py"""

from __future__ import annotations

import statistics
import sys
import time
import tracemalloc
from pathlib import Path

import orjson
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from jd_helix.sandbox import Sandbox, SandboxConfig

START, END = "2024-03-02T14:00:00Z", "2024-03-02T15:00:00Z"


def _pages(url: str, key: str, n: int) -> list[float]:
    s = requests.Session()
    s.headers["X-API-Key"] = key
    params = {"start": START, "end": END, "limit": 1000}
    s.get(url, params=params)  # warm up the connection
    times, cursor = [], None
    for _ in range(n):
        t0 = time.perf_counter()
        r = s.get(url, params={**params, **({"cursor": cursor} if cursor else {})})
        times.append((time.perf_counter() - t0) * 1000)
        cursor = r.json()["next_cursor"]
    return times


def main(pages: int = 50) -> None:
    cfg = SandboxConfig(fixed_sales_per_hour=1_000_000, rate_limit_per_5s=None, rate_limit_per_minute=None)
    with Sandbox.running(cfg) as sb:
        url = sb.jd_base_url + "/v1/sales"
        times = _pages(url, sb.jd_api_key, pages)
        # server-side cost alone: the page computed in process, serialised
        t0 = time.perf_counter()
        cur = None
        for _ in range(20):
            recs, cur, _hour = sb.sales.page(1709388000, 1709391600, 1000, cur)
            orjson.dumps(recs)
        server_ms = (time.perf_counter() - t0) * 1000 / 20
        t0 = time.perf_counter()
        requests.get(
            url,
            params={"start": "2024-03-02T14:59:00Z", "end": END, "limit": 1000},
            headers={"X-API-Key": sb.jd_api_key},
        )
        tail_ms = (time.perf_counter() - t0) * 1000
        # memory: traced allocations while paging through 200,000 of the hour's sales
        tracemalloc.start()
        _pages(url, sb.jd_api_key, 200)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    print(
        f"1,000-record page of a 1,000,000-sale hour over HTTP (incl. client JSON parse): "
        f"median {statistics.median(times):.1f} ms, p90 {sorted(times)[int(pages * 0.9)]:.1f} ms ({pages} pages)"
    )
    print(f"same page computed + serialised in process (server side only): {server_ms:.1f} ms")
    print(f"1,000-record page from the hour's last minute (found by bisection): {tail_ms:.1f} ms")
    print(f"peak traced Python memory (sandbox + client) while paging 200,000 sales: {peak / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
