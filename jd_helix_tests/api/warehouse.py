"""A warehouse filled by the real assets against the sandbox, for the API's tests.

A fixed number of sales per hour (the sandbox's curve would follow the wall clock), two
hours run through the whole chain with footage links, and a third only as far as
`transaction_camera_events`: as a run in progress leaves it, its sales not yet in the ledger.
"""

from __future__ import annotations

import dagster as dg

from jd_helix.defs.hourly_sales.camera_events import transaction_camera_events
from jd_helix.defs.hourly_sales.transactions import jd_transactions
from jd_helix.lib.partitions import partition_key
from jd_helix.resources.helix_settings import HelixSettings
from jd_helix.sandbox import Sandbox, SandboxConfig
from jd_helix_tests.e2e.harness import (
    recent_hours,
    refresh_dimensions,
    resources_for,
    run_hours,
)

SALES_PER_HOUR = 80
FOOTAGE_LINKS_PER_RUN = 15
POSTED_HOURS = recent_hours(2, ago=3)
UNPOSTED_HOUR = recent_hours(1, ago=2)[0]


def fill_warehouse(database: str) -> None:
    config = SandboxConfig(
        seed=11,
        stores=5,
        pos_per_store=2,
        items=40,
        fixed_sales_per_hour=SALES_PER_HOUR,
        rate_limit_per_5s=None,
        rate_limit_per_minute=None,
        batch_delay_s=0.0,
        # Broken sales records whichever hours the clock picks: at the default rates (1.2 % of
        # 80 sales) about one hour in three had none, and the rejected-records report of the
        # hours from the first posted one on (240 sales) could come back empty; at 4.5 % it
        # expects ~11 (none: ~2e-5), and ~93 % of the sales are still posted.
        missing_field_rate=0.015,
        null_field_rate=0.015,
        wrong_kind_rate=0.015,
    )
    with Sandbox.running(config, port=0) as sandbox:
        resources = {
            **resources_for(sandbox, database),
            "helix_settings": HelixSettings(footage_links=True, footage_links_per_run=FOOTAGE_LINKS_PER_RUN),
        }
        assert refresh_dimensions(resources).success
        assert run_hours(resources, POSTED_HOURS[0], POSTED_HOURS[-1]).success
        partial = dg.materialize(
            [jd_transactions, transaction_camera_events],
            resources=resources,
            partition_key=partition_key(UNPOSTED_HOUR),
        )
        assert partial.success
