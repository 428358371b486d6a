"""How `make test` shares the suite between its pytest-xdist workers (`-n 3 --dist loadscope`,
with this module's units as the scopes: conftest.py hands xdist the `UnitScheduling` below).

- The tests that run a whole deployment as real processes (Dagster daemons, `dagster dev`,
  PostgreSQL, run workers they kill) form one unit: they run one after another on one worker,
  never two of them at once, so that no deployment's timing budget competes with another's.
- Every other module is a unit of its own, so that its module-scoped fixtures are set up once;
  the API tests share one (session-scoped) warehouse, so their package is one unit.
- The longest units are handed out first: none is left to run alone at the end.

A serial run (`pytest` without `-n`) is left as it is. (xdist's own `--dist loadgroup` with
xdist_group marks would say the same, but xdist 3.8 cannot group under pytest 9.2:
pytest-dev/pytest-xdist#1386.)
"""

from __future__ import annotations

import pytest
from xdist.scheduler import LoadScopeScheduling

DEPLOYMENTS = "deployments"
DEPLOYMENT_MODULES = (
    "jd_helix_tests/deploy/test_topology.py",
    "jd_helix_tests/recovery/test_killed_run_worker.py",
    "jd_helix_tests/test_dev_stops_on_ctrl_c.py",
)
# recovery/test_cli_rerun.py kills real run workers too, but runs no daemon and gives each wait
# 3 minutes: it is a unit of its own, off the deployments' path (the suite's longest).
SHARED_PACKAGES = ("jd_helix_tests/api/",)
# Longest first (each a minute or more); the rest keep their collection order.
FIRST = (
    DEPLOYMENTS,
    "jd_helix_tests/test_same_verdict_at_far_instants.py",
    "jd_helix_tests/e2e/test_backfill_range.py",
    "jd_helix_tests/e2e/test_asset_page_in_chromium.py",
)


def unit_of(nodeid: str) -> str:
    module = nodeid.split("::", 1)[0]
    if module in DEPLOYMENT_MODULES:
        return DEPLOYMENTS
    return next((package for package in SHARED_PACKAGES if module.startswith(package)), module)


class UnitScheduling(LoadScopeScheduling):
    """xdist's scope scheduling, each scope one of this module's units."""

    def _split_scope(self, nodeid: str) -> str:
        return unit_of(nodeid)


def order_units(items: list[pytest.Item]) -> None:
    """The longest units first (in each worker's collection, which xdist schedules in order)."""

    def rank(item: pytest.Item) -> int:
        unit = unit_of(item.nodeid)
        return FIRST.index(unit) if unit in FIRST else len(FIRST)

    items.sort(key=rank)  # stable: within a rank, collection order
