"""The shipped instance settings (dagster.yaml) with the pools' granularity set, for the
benchmarks that compare Dagster's `granularity: run` with the project's executor (issue 27)."""

from __future__ import annotations

from pathlib import Path

import yaml

GRANULARITIES = ("op", "run")


def write_instance_yaml(shipped: Path, target: Path, granularity: str) -> None:
    """`shipped`, with `concurrency: pools: granularity:` set, written to `target` (the
    comments are dropped: it is a benchmark's copy)."""
    if granularity not in GRANULARITIES:
        raise ValueError(f"granularity {granularity!r}: one of {GRANULARITIES}")
    settings = yaml.safe_load(shipped.read_text())
    settings.setdefault("concurrency", {}).setdefault("pools", {})["granularity"] = granularity
    target.write_text(yaml.safe_dump(settings, sort_keys=False))
