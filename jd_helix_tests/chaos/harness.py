"""Chaos harness: run hours against a faulty sandbox, let the retry machinery work until
quiet, then hold DuckDB and Helix against the sandbox's ground truth.

The retry machinery is emulated without a daemon, the way the deployment runs it:
- step retries: the assets carry no RetryPolicy, so a failed step fails its run;
- a failed run re-executed from the failed step on, at most ``run_retries.max_retries``
  (dagster.yaml) times: Dagster's run retries for a dead worker, and for a failed step
  the first attempts of hour_recovery_sensor (without its waits, which
  recovery/test_outage_heals.py covers);
- ``helix_retry_sensor``: ticked with ``dg.build_sensor_context`` and every run it asks
  for is executed (with run retries too), until it asks for nothing and no failed event
  is still waiting for its backoff.

Used by the CI tests in this folder and by ``benchmarks/chaos.py`` (the full form).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import yaml

from jd_helix.defs.exceptions.assets import transaction_exceptions
from jd_helix.defs.helix.assets import helix_event_type, helix_events
from jd_helix.defs.helix.remap import helix_remap_job
from jd_helix.defs.helix.retry import helix_retry_job, helix_retry_sensor
from jd_helix.defs.hourly_sales.camera_events import transaction_camera_events
from jd_helix.defs.hourly_sales.store_sales import store_sales
from jd_helix.defs.hourly_sales.transactions import jd_transactions
from jd_helix.defs.reference_data.assets import jd_dimension_assets, verkada_cameras
from jd_helix.lib.partitions import partition_key
from jd_helix_tests.e2e.harness import naive, query

PROJECT_ROOT = Path(__file__).resolve().parents[2]
# The assets of dimensions_job and hourly_sales_job (asset checks are left to their own tests:
# here only delivery is judged).
DIMENSION_ASSETS = [*jd_dimension_assets, verkada_cameras, helix_event_type]
HOURLY_ASSETS = [jd_transactions, transaction_camera_events, transaction_exceptions, helix_events, store_sales]
JOB_ASSETS = {
    helix_retry_job.name: [helix_events, store_sales],
    helix_remap_job.name: [transaction_camera_events, transaction_exceptions, helix_events, store_sales],
}


def shipped_run_retries() -> int:
    """``run_retries.max_retries`` of the dagster.yaml that ships with the project."""
    settings = yaml.safe_load((PROJECT_ROOT / "dagster.yaml").read_text())
    retries = settings.get("run_retries") or {}
    return int(retries.get("max_retries", 0)) if retries.get("enabled") else 0


@dataclass
class Figures:
    """What the retry machinery spent."""

    runs: int = 0
    failed_runs: int = 0
    run_retries: int = 0
    sensor_ticks: int = 0
    sensor_runs: int = 0
    step_failures: list[str] = field(default_factory=list)
    metadata: Counter = field(default_factory=Counter)  # summed numeric metadata per asset/key

    def absorb(self, result: dg.ExecuteInProcessResult) -> None:
        self.runs += 1
        if not result.success:
            self.failed_runs += 1
        for event in result.get_step_failure_events():
            error = event.event_specific_data.error
            while error is not None and error.cause is not None:  # the asset's own exception
                error = error.cause
            message = error.message.strip().splitlines()[0][:300] if error else "?"
            self.step_failures.append(f"{event.step_key}: {message}")
        counted: set[str] = set()
        for event in result.get_asset_materialization_events():
            asset = event.asset_key.to_user_string()
            if asset in counted:  # run-wide figures repeat on every hour of the run: count them once
                continue
            counted.add(asset)
            hourly = event.partition is not None  # hourly assets name their run-wide figures run/...
            for key, value in event.materialization.metadata.items():
                name = key.removeprefix("run/") if hourly else key
                if (key.startswith("run/") or not hourly) and name in (
                    "requests",
                    "pages",
                    "rate_limited_429",
                    "records_received",
                ):
                    self.metadata[f"{asset}/{name}"] += int(value.value)


def materialized(result: dg.ExecuteInProcessResult) -> set[str]:
    return {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}


def _all_done(asset, done: set[str]) -> bool:
    return all(key.to_user_string() in done for key in asset.keys)


def run_with_retries(
    assets: list, resources: dict, figures: Figures, max_run_retries: int, **kwargs: Any
) -> dg.ExecuteInProcessResult:
    """Run ``assets``; a failed run is re-executed from its first unmaterialized asset on."""
    selection = list(assets)
    for attempt in range(max_run_retries + 1):
        result = dg.materialize(selection, resources=resources, raise_on_error=False, **kwargs)
        figures.absorb(result)
        if result.success:
            return result
        done = materialized(result)
        # From failure: what did not materialize, and (for the hourly chain) all after it.
        chain = [a for a in HOURLY_ASSETS if a in selection]
        if chain:
            first = next((i for i, a in enumerate(chain) if not _all_done(a, done)), 0)
            selection = chain[first:]
        else:
            selection = [a for a in selection if not _all_done(a, done)] or selection
        if attempt < max_run_retries:
            figures.run_retries += 1
    return result


def failed_waiting(database: str, max_attempts: int) -> int:
    return query(
        database, "SELECT count(*) FROM helix_events WHERE status = 'failed' AND attempts < ?", [max_attempts]
    )[0][0]


def run_until_quiet(
    resources: dict,
    hours: list[datetime],
    *,
    figures: Figures | None = None,
    max_run_retries: int | None = None,
    max_ticks: int = 200,
    dimensions: bool = True,
    before_hour: Callable[[int], None] | None = None,
    run_kwargs: dict | None = None,
) -> Figures:
    """Dimensions, then each hour's run (with run retries), then the retry sensor until quiet."""
    figures = figures or Figures()
    retries = shipped_run_retries() if max_run_retries is None else max_run_retries
    database = resources["warehouse"].database
    settings = resources["helix_settings"]
    if dimensions:
        result = run_with_retries(DIMENSION_ASSETS, resources, figures, retries, **(run_kwargs or {}))
        assert result.success, f"dimensions never succeeded: {figures.step_failures}"
    for index, hour in enumerate(hours):
        if before_hour is not None:
            before_hour(index)
        run_with_retries(
            HOURLY_ASSETS, resources, figures, retries, partition_key=partition_key(hour), **(run_kwargs or {})
        )

    cursor = None
    for _ in range(max_ticks):
        context = dg.build_sensor_context(
            cursor=cursor, resources={"warehouse": resources["warehouse"], "helix_settings": settings}
        )
        outcome = helix_retry_sensor(context)
        figures.sensor_ticks += 1
        if isinstance(outcome, dg.SkipReason) or not outcome.run_requests:
            cursor = getattr(outcome, "cursor", None) or cursor
            if failed_waiting(database, settings.max_attempts) == 0:
                return figures
            time.sleep(settings.retry_base_minutes * 60)  # the backoff has not passed yet: next tick
            continue
        cursor = outcome.cursor if outcome.cursor is not None else cursor
        for request in outcome.run_requests:
            figures.sensor_runs += 1
            run_with_retries(
                JOB_ASSETS[request.job_name],
                resources,
                figures,
                retries,
                # One hour (retries), or a range of hours as tags (camera re-joins).
                **({"partition_key": request.partition_key} if request.partition_key else {"tags": dict(request.tags)}),
                **(run_kwargs or {}),
            )
    raise AssertionError(f"the retry sensor was still asking for runs after {max_ticks} ticks")


# ----------------------------------------------------------------------------- checks


def hour_range(hours: list[datetime]) -> tuple[datetime, datetime]:
    return hours[0], hours[-1] + timedelta(hours=1)


def truth_of(sandbox, hours: list[datetime]):
    return {hour: sandbox.truth(hour, hour + timedelta(hours=1)) for hour in hours}


def check_against_truth(sandbox, database: str, hours: list[datetime]) -> dict[str, int]:
    """Assert DuckDB equals the sandbox's truth, Helix holds exactly one event per postable
    sale (and nothing else), no triple ever carried two sales, nothing is pending or failed.
    Returns the final counts."""
    truths = truth_of(sandbox, hours)
    valid = {tid: sale for truth in truths.values() for tid, sale in truth.valid.items()}
    for hour, truth in truths.items():
        rows = query(
            database,
            "SELECT transaction_id, time_ms, transaction_amount, item_id, camera_id FROM jd_transactions "
            "WHERE sale_hour = ?",
            [naive(hour)],
        )
        assert len(rows) == len({r[0] for r in rows}), f"{hour}: one row per transaction_id"
        assert {r[0]: r[1:] for r in rows} == {
            s.transaction_id: (s.time_ms, s.amount, s.item_id, s.camera_id) for s in truth.valid.values()
        }, f"{hour}: jd_transactions differs from the sandbox's truth"
        rejected = query(
            database,
            "SELECT field FROM jd_rejected_records WHERE endpoint = '/v1/sales' AND scope = ?",
            [partition_key(hour)],
        )
        assert Counter(f for (f,) in rejected) == Counter(r.field for r in truth.rejected), f"{hour}: rejections"

    first, end = hour_range(hours)
    joined = dict(
        query(
            database,
            "SELECT transaction_id, verkada_camera_id FROM transaction_camera_events WHERE sale_hour >= ? AND sale_hour < ?",
            [naive(first), naive(end)],
        )
    )
    assert joined == {tid: s.verkada_camera_id for tid, s in valid.items()}, "the join differs from the truth"

    ledger = query(
        database,
        "SELECT transaction_id, status, verkada_camera_id, time_ms, reason FROM helix_events "
        "WHERE sale_hour >= ? AND sale_hour < ?",
        [naive(first), naive(end)],
    )
    statuses = Counter(status for _, status, _, _, _ in ledger)
    postable = {tid for tid, s in valid.items() if s.verkada_camera_id is not None}
    stuck = [(tid, status, reason) for tid, status, _, _, reason in ledger if status not in ("posted", "unmapped")]
    assert not stuck, f"{len(stuck)} ledger rows neither posted nor unmapped, e.g. {stuck[:5]}"
    assert {tid for tid, status, *_ in ledger if status == "posted"} == postable
    assert {tid for tid, status, *_ in ledger if status == "unmapped"} == set(valid) - postable

    events = sandbox.helix_events()
    per_sale = Counter(e["attributes"]["transaction_id"] for e in events)
    doubled = {tid: n for tid, n in per_sale.items() if n > 1}
    assert not doubled, f"sales with more than one Helix event: {list(doubled.items())[:5]}"
    assert set(per_sale) == postable, (
        f"missing in Helix: {sorted(postable - set(per_sale))[:5]}, "
        f"not postable but in Helix: {sorted(set(per_sale) - postable)[:5]}"
    )
    posted = {tid: (camera, ms) for tid, status, camera, ms, _ in ledger if status == "posted"}
    assert {e["attributes"]["transaction_id"]: (e["camera_id"], e["time_ms"]) for e in events} == posted

    owners: dict[tuple, set] = {}
    writes = sandbox.helix_writes()
    for write in writes:
        triple = (write["camera_id"], write["event_type_uid"], write["time_ms"])
        owners.setdefault(triple, set()).add(write["attributes"]["transaction_id"])
    shared = {t: s for t, s in owners.items() if len(s) > 1}
    assert not shared, f"triples written for two sales (one overwrote another): {list(shared.items())[:3]}"
    return {
        "valid_sales": len(valid),
        "postable_sales": len(postable),
        "helix_events": len(events),
        "helix_writes": len(writes),
        "ledger_posted": statuses["posted"],
        "ledger_unmapped": statuses["unmapped"],
        "ledger_pending": statuses["pending"],
        "ledger_failed": statuses["failed"],
    }


def faults_injected(sandbox) -> dict[str, int]:
    """What the sandbox did wrong on purpose, by kind (from ``sb.stats()``)."""
    out: Counter = Counter()
    for (api, endpoint, status), count in sandbox.stats().items():
        if status == 0:
            out[f"{api}: dropped connections"] += count
        elif status == 429:
            out[f"{api}: 429"] += count
        elif status >= 500:
            out[f"{api}: 5xx"] += count
        elif status == 401 and endpoint != "token":
            out[f"{api}: 401 (token expired)"] += count
        if status != 0:
            out[f"{api}: requests answered"] += count
    return dict(sorted(out.items()))
