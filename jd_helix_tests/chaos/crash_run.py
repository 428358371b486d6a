"""Run one hour of the hourly chain in a process of its own, so that a test can SIGKILL it.

    python -m jd_helix_tests.chaos.crash_run DATABASE PARTITION_KEY

Settings come from the environment: CRASH_JD_URL, CRASH_VERKADA_URL, JD_API_KEY,
VERKADA_API_KEY, CRASH_JD_PAGE_SIZE, CRASH_BATCH_SIZE, and optionally
CRASH_HOLD_COMMIT_OF=<asset> with CRASH_MARKER=<path>: when that asset's DuckDB write
transaction has run all its statements, the marker file is written and the process
waits before COMMIT (so the test can kill it inside the open transaction: DuckDB's
timing alone would make that moment a matter of luck).
"""

from __future__ import annotations

import inspect
import os
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import dagster as dg

from jd_helix.lib.partitions import partition_key  # noqa: F401 - documents the key format
from jd_helix.resources.exception_settings import ExceptionSettings
from jd_helix.resources.helix_settings import HelixSettings
from jd_helix.resources.jd_api import JdApiResource
from jd_helix.resources.verkada import VerkadaResource
from jd_helix.resources.warehouse import WarehouseResource
from jd_helix_tests.chaos.harness import HOURLY_ASSETS
from jd_helix_tests.clock import follow_test_clock


class HoldingWarehouse(WarehouseResource):
    """The real warehouse; the write transaction of one asset pauses before its COMMIT."""

    hold_commit_of: str = ""
    marker: str = ""

    @contextmanager
    def write(self, *, bulk: bool = False):
        with super().write(bulk=bulk) as conn:
            yield conn
            callers = {frame.function for frame in inspect.stack(context=0)}
            if self.hold_commit_of and self.hold_commit_of in callers:
                Path(self.marker).write_text(str(os.getpid()))
                time.sleep(600)  # killed here, statements run, COMMIT not yet


def main(database: str, key: str) -> int:
    env = os.environ
    resources = {
        "jd_api": JdApiResource(
            base_url=env["CRASH_JD_URL"],
            api_key=dg.EnvVar("JD_API_KEY"),
            page_size=int(env.get("CRASH_JD_PAGE_SIZE", "1000")),
        ),
        "verkada": VerkadaResource(
            base_url=env["CRASH_VERKADA_URL"],
            api_key=dg.EnvVar("VERKADA_API_KEY"),
            batch_size=int(env.get("CRASH_BATCH_SIZE", "1000")),
        ),
        "warehouse": HoldingWarehouse(
            database=database,
            hold_commit_of=env.get("CRASH_HOLD_COMMIT_OF", ""),
            marker=env.get("CRASH_MARKER", ""),
        ),
        "helix_settings": HelixSettings(),
        "exception_settings": ExceptionSettings(),
    }
    result = dg.materialize(HOURLY_ASSETS, resources=resources, partition_key=key, raise_on_error=False)
    return 0 if result.success else 1


if __name__ == "__main__":
    follow_test_clock()  # the same "now" as the test that started this process
    sys.exit(main(sys.argv[1], sys.argv[2]))
