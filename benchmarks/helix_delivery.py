"""Issue 4: posting events to Helix under Verkada's real rate limit (300/min, 25 per 5 s).

A sandbox runs in its own process with its server-side rate limit on (the CLI defaults:
25 per 5 s, 300 per minute; a breach is answered 429 with a 5 s cooldown). This process
uses the real client — `VerkadaResource(base_url=..., api_key=...).get_client()` with its
default limiter — to:

  1. batch mode: create an event type and `post_events` N events (default 100,000) on the
     sandbox's real cameras, time_ms within the last day, every (camera, type, time_ms)
     triple distinct. Wall time (token + event type + post_events) is printed against the
     bound the limit allows, requests ÷ 5 per second, computed two ways:
       - minimum:  token + type + ceil(N/1000) submits + ceil(N/1000) polls
       - actual:   the requests the client really made (client.requests_made)
     Target: wall <= 1.5x bound, zero 429s.
  2. single-POST fallback: a second sandbox with --batch-mode 404; post M events (default
     300, about a minute). Target: >= 90% of the 5 events/s the limit allows.

After each, the sandbox's own store is read (/_sandbox/events, /_sandbox/writes,
/_sandbox/stats) to check it holds exactly the events sent, each written exactly once,
and to count the 429s it sent.

The camera list is taken from the sandbox's deterministic world in this process
(`Sandbox(cfg).verkada_cameras()`, same seed as the served one, never started), so that
listing cameras does not spend the rate limit being measured.

Run:  python benchmarks/helix_delivery.py [--events 100000] [--fallback-events 300] [--skip-batch|--skip-fallback]
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _sandbox_proc import sandbox_process  # noqa: E402

from jd_helix.clients.verkada.events import HelixEvent  # noqa: E402
from jd_helix.resources.helix_settings import EVENT_SCHEMA  # noqa: E402
from jd_helix.resources.verkada import VerkadaResource  # noqa: E402
from jd_helix.sandbox import Sandbox, SandboxConfig  # noqa: E402

SEED = 7
ALLOWED_PER_S = 25 / 5  # the org's limit: 25 per 5 s (300 per minute is the same rate)
MAX_BATCH = 1000


def _events(n: int, cameras: list[str], event_type_uid: str, tag: str) -> list[HelixEvent]:
    """n events with distinct triples, time_ms spread over 20 minutes, 23 hours ago."""
    base = time.time_ns() // 1_000_000 - 23 * 3600 * 1000
    out = []
    for i in range(n):
        out.append(
            HelixEvent(
                camera_id=cameras[i % len(cameras)],
                event_type_uid=event_type_uid,
                time_ms=base + i * 7,  # distinct on every camera, well inside the last day
                attributes={
                    "transaction_id": f"{tag}-{i}",
                    "transaction_amount": 19.99 + (i % 100),
                    "item_id": str(10000 + i % 200),
                    "store_id": str(i % 25),
                },
                key=f"{tag}-{i}",
            )
        )
    return out


def _time_the_parts(client) -> dict[str, float]:
    """Wrap the client's limiter wait, HTTP round trips and poll sleeps to add up their time.

    What is left of post_events is the client's own CPU (bodies, JSON) and the caller's
    on_batch_done (none here).
    """
    timing = {"limiter_wait_s": 0.0, "http_s": 0.0, "poll_sleep_s": 0.0}
    limiter, session, poster = client.transport.limiter, client.transport._session, client._batches

    def timed(key, fn):
        def wrapper(*args, **kwargs):
            t = time.monotonic()
            try:
                return fn(*args, **kwargs)
            finally:
                timing[key] += time.monotonic() - t

        return wrapper

    limiter_wait_before = limiter.waited_s
    request = session.request
    session.request = lambda *a, **k: timed("http_s", request)(*a, **k)
    poster._sleep = timed("poll_sleep_s", poster._sleep)
    timing["_limiter"] = limiter
    timing["_limiter_before"] = limiter_wait_before
    return timing


def _sandbox_stats(sb) -> dict[tuple[str, int], int]:
    out: dict[tuple[str, int], int] = {}
    for s in sb.admin("stats")["stats"]:
        if s["api"] == "verkada":
            out[(s["endpoint"], s["status"])] = out.get((s["endpoint"], s["status"]), 0) + s["count"]
    return out


def _check_store(sb, events: list[HelixEvent], event_type_uid: str) -> tuple[bool, str]:
    sent = {(e.camera_id, e.event_type_uid, e.time_ms) for e in events}
    held = [
        (e["camera_id"], e["event_type_uid"], e["time_ms"])
        for e in sb.admin("events")["events"]
        if e["event_type_uid"] == event_type_uid
    ]
    writes = [
        (w["camera_id"], w["event_type_uid"], w["time_ms"])
        for w in sb.admin("writes")["writes"]
        if w["event_type_uid"] == event_type_uid
    ]
    ok = len(held) == len(sent) and set(held) == sent and len(writes) == len(sent) and set(writes) == sent
    return ok, (
        f"sandbox holds {len(held):,} events of the type ({len(set(held) & sent):,} of the {len(sent):,} sent), "
        f"{len(writes):,} writes ({len(set(writes)):,} distinct triples)"
    )


def run(n: int, batch_mode: str) -> dict:
    cfg = SandboxConfig(seed=SEED)
    cameras = [c["camera_id"] for c in Sandbox(cfg).verkada_cameras()]
    with sandbox_process("--seed", str(SEED), "--batch-mode", batch_mode) as sb:
        resource = VerkadaResource(base_url=sb.verkada_base_url, api_key=sb.verkada_api_key)
        with resource.get_client() as client:
            t0 = time.monotonic()
            event_type = client.ensure_event_type(f"JD Sports Sale bench {batch_mode}", EVENT_SCHEMA)
            setup_requests = client.requests_made
            events = _events(n, cameras, event_type.uid, batch_mode)
            timing = _time_the_parts(client)
            t1 = time.monotonic()
            outcomes = client.post_events(events)
            t2 = time.monotonic()
            result = {
                "n": n,
                "batch_mode": batch_mode,
                "total_s": t2 - t0,
                "post_s": t2 - t1,
                "setup_requests": setup_requests,
                "requests": client.requests_made,
                "client_429": client.rate_limited,
                "batch_supported": client.batch_supported,
                "posted": sum(o.status == "posted" for o in outcomes),
                "not_posted": [o for o in outcomes if o.status != "posted"][:5],
                "timing": timing,
            }
        stats = _sandbox_stats(sb)
        result["server_requests"] = sum(stats.values())
        result["server_429"] = sum(c for (_, status), c in stats.items() if status == 429)
        result["server_stats"] = stats
        result["store_ok"], result["store_msg"] = _check_store(sb, events, event_type.uid)
    return result


def report_batch(r: dict) -> bool:
    n = r["n"]
    jobs = math.ceil(n / MAX_BATCH)
    minimum = 1 + 1 + jobs + jobs  # token + event type + submits + polls
    bound_min = minimum / ALLOWED_PER_S
    bound_actual = r["requests"] / ALLOWED_PER_S
    print(
        f"\nbatch mode: {n:,} events in {r['total_s']:.1f} s (post_events {r['post_s']:.1f} s), {r['posted']:,} posted"
    )
    print(
        f"  requests: client {r['requests']} ({r['setup_requests']} for token + event type), "
        f"sandbox saw {r['server_requests']}; minimum possible {minimum} "
        f"(1 token + 1 type + {jobs} submits + {jobs} polls)"
    )
    print(
        f"  bound at 5 req/s: {bound_min:.1f} s for the minimum requests -> wall / bound = "
        f"{r['total_s'] / bound_min:.2f}x; {bound_actual:.1f} s for the requests made -> "
        f"{r['total_s'] / bound_actual:.2f}x"
    )
    print(f"  429s: client saw {r['client_429']}, sandbox sent {r['server_429']}")
    t = r["timing"]
    limiter_wait = t["_limiter"].waited_s - t["_limiter_before"]
    http_only = t["http_s"] - limiter_wait  # the limiter waits inside each request's first hook
    print(
        f"  post_events {r['post_s']:.1f} s = limiter wait {limiter_wait:.1f} s + HTTP round trips "
        f"{http_only:.1f} s + sleeping for a poll {t['poll_sleep_s']:.1f} s + the rest (client CPU) "
        f"{r['post_s'] - t['http_s'] - t['poll_sleep_s']:.1f} s"
    )
    print(f"  {r['store_msg']}: {'exactly once' if r['store_ok'] else 'MISMATCH'}")
    print(
        "  sandbox requests by endpoint: "
        + ", ".join(f"{e} {s}: {c}" for (e, s), c in sorted(r["server_stats"].items()))
    )
    ok = r["total_s"] <= 1.5 * bound_min and r["server_429"] == 0 and r["store_ok"] and r["posted"] == n
    print(f"  target (<= 1.5x the minimum bound, zero 429s, all posted once): {'met' if ok else 'MISSED'}")
    if r["not_posted"]:
        print(f"  first outcomes not posted: {r['not_posted']}")
    return ok


def report_fallback(r: dict) -> bool:
    n = r["n"]
    rate = n / r["post_s"]
    rate_total = n / r["total_s"]
    print(
        f"\nsingle-POST fallback (batch endpoint 404): {n:,} events, post_events {r['post_s']:.1f} s "
        f"-> {rate:.2f} events/s = {rate / ALLOWED_PER_S:.0%} of the 5/s the limit allows "
        f"(incl. token + type: {r['total_s']:.1f} s, {rate_total:.2f}/s = {rate_total / ALLOWED_PER_S:.0%})"
    )
    print(
        f"  requests: client {r['requests']}, sandbox saw {r['server_requests']}; "
        f"batch_supported={r['batch_supported']}; {r['posted']:,} posted"
    )
    print(f"  429s: client saw {r['client_429']}, sandbox sent {r['server_429']}")
    print(f"  {r['store_msg']}: {'exactly once' if r['store_ok'] else 'MISMATCH'}")
    ok = rate >= 0.9 * ALLOWED_PER_S and r["server_429"] == 0 and r["store_ok"] and r["posted"] == n
    print(f"  target (>= 90% of 5 events/s, zero 429s, all posted once): {'met' if ok else 'MISSED'}")
    if r["not_posted"]:
        print(f"  first outcomes not posted: {r['not_posted']}")
    return ok


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--events", type=int, default=100_000, help="events posted in batch mode")
    p.add_argument("--fallback-events", type=int, default=300, help="events posted one by one (batch 404)")
    p.add_argument("--skip-batch", action="store_true")
    p.add_argument("--skip-fallback", action="store_true")
    args = p.parse_args()
    print(
        "Helix delivery under the sandbox's server-side limit (25 per 5 s, 300 per minute); "
        "sandbox in its own process, real VerkadaClient with its default limiter"
    )
    if not args.skip_batch:
        report_batch(run(args.events, "enabled"))
    if not args.skip_fallback:
        report_fallback(run(args.fallback_events, "404"))


if __name__ == "__main__":
    main()
