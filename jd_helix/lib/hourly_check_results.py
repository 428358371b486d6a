"""Recording each hour's check results for that hour, in runs that cover many hours.

Dagster files an `AssetCheckResult` under the run's partition only when the run has
exactly one; in a ranged run (the scheduled look-back, every backfill) the result is filed
under no partition at all, and every hour's check stays "not evaluated". So the checks
evaluate each hour on its own and yield, per hour, the `AssetCheckEvaluation` Dagster would
have built, with that hour as its partition and that hour's latest materialization as its
target (what the UI compares against to call a result current). Each check's output is
yielded once, as Dagster expects of a check step.

A failed blocking check still fails the step (Dagster's own rule), which holds back the
steps downstream for all hours of the run; the error log says which hours failed, and the
catch-up automation then runs the hours that passed (it waits for blocking checks to pass).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime

import dagster as dg
from dagster import AssetRecordsFilter, DagsterEventType
from dagster._core.definitions.asset_checks.asset_check_evaluation import (
    AssetCheckEvaluationTargetMaterializationData,  # not exported at the top level in 1.13
)

from jd_helix.lib.hourly_table import HourWindow, aware
from jd_helix.lib.partitions import partition_key

# hour (naive UTC) -> that hour's results
HourlyEvaluator = Callable[[HourWindow], Mapping[datetime, Iterable[dg.AssetCheckResult]]]


def latest_materializations(
    instance: dg.DagsterInstance, asset_key: dg.AssetKey, keys: list[str]
) -> dict[str, AssetCheckEvaluationTargetMaterializationData]:
    """The latest materialization of each partition in `keys` (two queries, whatever the count)."""
    storage_ids = instance.event_log_storage.get_latest_storage_id_by_partition(
        asset_key, DagsterEventType.ASSET_MATERIALIZATION, partitions=set(keys)
    )
    if not storage_ids:
        return {}
    records = instance.fetch_materializations(
        AssetRecordsFilter(asset_key=asset_key, storage_ids=list(storage_ids.values())), limit=len(storage_ids)
    ).records
    return {
        record.partition_key: AssetCheckEvaluationTargetMaterializationData(
            storage_id=record.storage_id, run_id=record.run_id, timestamp=record.timestamp
        )
        for record in records
        if record.partition_key is not None
    }


def results_per_hour(context: dg.AssetCheckExecutionContext, evaluate: HourlyEvaluator) -> Iterator:
    """File every hour's results (from `evaluate(window)`) under that hour."""
    op_context = context.op_execution_context
    window = HourWindow.of(op_context)
    specs = {spec.key: spec for spec in context.check_specs}
    keys = {hour: partition_key(aware(hour)) for hour in window.hours}
    targets = {
        asset_key: latest_materializations(context.instance, asset_key, list(keys.values()))
        for asset_key in {spec.asset_key for spec in specs.values()}
    }
    by_hour = evaluate(window)
    failed_blocking: dict[str, list[str]] = {}
    for hour, key in keys.items():
        for result in by_hour[hour]:
            spec = _spec_of(result, specs)
            if not result.passed and spec.blocking and result.severity == dg.AssetCheckSeverity.ERROR:
                failed_blocking.setdefault(spec.name, []).append(key)
            yield dg.AssetCheckEvaluation(
                asset_key=spec.asset_key,
                check_name=spec.name,
                passed=result.passed,
                metadata=result.metadata,
                target_materialization_data=targets[spec.asset_key].get(key),
                severity=result.severity,
                description=result.description,
                blocking=spec.blocking,
                partition=key,
            )
    if failed_blocking:
        context.log.error(_held_back_message(failed_blocking, window))
    for spec in specs.values():
        yield dg.Output(None, output_name=op_context.assets_def.get_output_name_for_asset_check_key(spec.key))


def _spec_of(result: dg.AssetCheckResult, specs: dict[dg.AssetCheckKey, dg.AssetCheckSpec]) -> dg.AssetCheckSpec:
    matching = [
        spec
        for spec in specs.values()
        if result.check_name in (None, spec.name) and result.asset_key in (None, spec.asset_key)
    ]
    if len(matching) != 1:
        raise dg.DagsterInvariantViolationError(f"cannot tell which check {result} belongs to")
    return matching[0]


def _held_back_message(failed: dict[str, list[str]], window: HourWindow) -> str:
    hours = sorted({hour for keys in failed.values() for hour in keys})
    which = "; ".join(f"{name} failed for {', '.join(keys)}" for name, keys in sorted(failed.items()))
    return (
        f"Blocking check failed for {len(hours)} of this run's {len(window.hours)} hours ({which}). "
        "Dagster holds back the steps downstream for every hour of this run; the hours that "
        "passed are joined and posted by the catch-up automation, the failing ones stay held "
        "back until they are re-materialized and pass."
    )
