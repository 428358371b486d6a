"""The crash and recovery tests under each pool granularity, side by side (issue 27).

The tests that kill real processes get their instance settings from the project's files:
`jd_helix_tests/recovery/` copies `dagster.yaml` into a persistent DAGSTER_HOME, the
deployment tests copy `deploy/dagster.yaml`. So each granularity gets its own copy of the
committed tree (`git archive HEAD`), in which both files say `concurrency: pools:
granularity: <op|run>` (op is what ships; --ref picks another commit), and pytest runs there with this venv, the copy
first on PYTHONPATH (for the processes the tests start too). Test files alternate between
the copies (op, then run, file by file), so both see the same machine load.

Reports, per test and granularity, passed/failed/skipped and seconds, and the first lines
of each failure. (`deploy/test_topology.py::…runs_the_installed_wheel_outside_the_source_tree`
fails under both here: it imports `jd_helix` with the test's environment, whose PYTHONPATH
names the copy.)

Run:  .venv/bin/python benchmarks/pool_granularity.py
      .venv/bin/python benchmarks/pool_granularity.py jd_helix_tests/recovery/test_cli_rerun.py --granularity run
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _instance_yaml import GRANULARITIES, write_instance_yaml

PROJECT_ROOT = Path(__file__).resolve().parents[1]
# Every test that kills a real process: run workers under dagster dev and the CLI, a run
# process in each stage, the code location "container" of the production topology.
DEFAULT_TESTS = [
    "jd_helix_tests/recovery/test_killed_run_worker.py",
    "jd_helix_tests/recovery/test_cli_rerun.py",
    "jd_helix_tests/recovery/test_outage_heals.py",
    "jd_helix_tests/chaos/test_crash.py",
    "jd_helix_tests/deploy/test_topology.py",
]
INSTANCE_FILES = ["dagster.yaml", "deploy/dagster.yaml"]


@dataclass
class Outcome:
    test: str
    granularity: str
    outcome: str  # passed, failed, error, skipped
    seconds: float
    message: str = ""


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def copy_of_the_tree(target: Path, granularity: str, ref: str = "HEAD") -> Path:
    """The tree of commit `ref` in `target`, its instance files set to `granularity`."""
    archive = subprocess.run(["git", "archive", ref], cwd=PROJECT_ROOT, capture_output=True, check=True).stdout
    target.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(target, filter="data")
    for name in INSTANCE_FILES:
        write_instance_yaml(target / name, target / name, granularity)
    return target


def environment(tree: Path) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    found = subprocess.run(
        [sys.executable, "-c", "import jd_helix, jd_helix_tests; print(jd_helix.__file__, jd_helix_tests.__file__)"],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    if not all(path.startswith(str(tree)) for path in found):
        raise SystemExit(f"the copy in {tree} is not what Python imports: {found}")
    return env


def run_tests(tree: Path, granularity: str, test_file: str, report_dir: Path) -> list[Outcome]:
    report = report_dir / f"{granularity}_{Path(test_file).stem}.xml"
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={report}", test_file]
    started = time.monotonic()
    completed = subprocess.run(command, cwd=tree, env=environment(tree), capture_output=True, text=True)
    took = time.monotonic() - started
    (report_dir / f"{granularity}_{Path(test_file).stem}.out").write_text(completed.stdout + completed.stderr)
    log(f"{granularity:3s} {test_file}: exit {completed.returncode} in {took:.0f} s")
    if not report.exists():
        return [Outcome(test_file, granularity, "error", took, (completed.stdout + completed.stderr)[-1500:])]
    return outcomes(report, granularity)


def outcomes(report: Path, granularity: str) -> list[Outcome]:
    found = []
    for case in ET.parse(report).iter("testcase"):
        name = f"{case.get('classname', '').rsplit('.', 1)[-1]}::{case.get('name')}"
        outcome, message = "passed", ""
        for kind in ("failure", "error", "skipped"):
            detail = case.find(kind)
            if detail is not None:
                outcome = {"failure": "failed"}.get(kind, kind)
                message = (detail.get("message") or detail.text or "").strip().splitlines()[0][:300]
                break
        found.append(Outcome(name, granularity, outcome, float(case.get("time", 0)), message))
    return found


def print_table(results: list[Outcome], granularities: list[str]) -> None:
    by_test: dict[str, dict[str, Outcome]] = {}
    for result in results:
        by_test.setdefault(result.test, {})[result.granularity] = result
    width = max(len(test) for test in by_test)
    print("\n" + f"{'test':{width}s}  " + "  ".join(f"{g:>18s}" for g in granularities))
    for test, legs in by_test.items():
        cells = [
            f"{legs[g].outcome:>8s} {legs[g].seconds:7.1f} s" if g in legs else f"{'-':>18s}" for g in granularities
        ]
        print(f"{test:{width}s}  " + "  ".join(cells))
    print(
        f"{'total':{width}s}  "
        + "  ".join(
            f"{sum(r.outcome == 'passed' for r in results if r.granularity == g):>3d} passed "
            f"{sum(r.seconds for r in results if r.granularity == g):7.1f} s"
            for g in granularities
        )
    )
    failures = [r for r in results if r.outcome in ("failed", "error")]
    if failures:
        print("\nfailures:")
        for r in failures:
            print(f"  [{r.granularity}] {r.test}: {r.message}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("tests", nargs="*", default=DEFAULT_TESTS, help="test files (default: every crash test)")
    parser.add_argument("--granularity", choices=GRANULARITIES, action="append", help="repeatable (default: op, run)")
    parser.add_argument("--ref", default="HEAD", help="the commit whose tree is tested (default: HEAD)")
    parser.add_argument("--json", type=Path, default=None, help="also write the outcomes here")
    parser.add_argument("--keep", action="store_true", help="keep the copies and each pytest's output")
    args = parser.parse_args()
    granularities = args.granularity or list(GRANULARITIES)

    root = Path(tempfile.mkdtemp(prefix="jd_helix_pool_granularity_"))
    results: list[Outcome] = []
    try:
        trees = {g: copy_of_the_tree(root / g, g, args.ref) for g in granularities}
        for test_file in args.tests:
            for granularity in granularities:
                results += run_tests(trees[granularity], granularity, test_file, root)
    finally:
        if args.json:
            args.json.write_text(json.dumps([asdict(r) for r in results], indent=2))
        if args.keep:
            log(f"copies and pytest output kept in {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    print_table(results, granularities)
    return 0 if all(r.outcome in ("passed", "skipped") for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
