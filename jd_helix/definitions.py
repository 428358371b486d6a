"""The jd_helix code location: every definition under jd_helix/defs/ (one folder per domain,
listed in jd_helix/defs/__init__.py), with the resources the environment describes and the
pool-aware executor.

Dagster's package loader picks up each asset, check, job, schedule and sensor at the top
level of a module under defs/, once however many modules import it. Unlike
`load_from_defs_folder`, it needs no pyproject.toml at run time, so the installed wheel
(the deployed image) loads the same definitions as a checkout.
"""

import dagster as dg

import jd_helix.defs
from jd_helix.lib.pools.executor import pool_aware_in_process_executor
from jd_helix.lib.source_links import with_links_to_bodies
from jd_helix.resources.from_environment import build_resources


def _with_resources_and_links(found: dg.Definitions) -> dg.Definitions:
    return dg.Definitions(
        # Each asset links to the file and line of its body (the asset page's "Source code").
        assets=with_links_to_bodies(list(found.assets or [])),
        asset_checks=found.asset_checks,
        jobs=found.jobs,
        schedules=found.schedules,
        sensors=found.sensors,
        resources=build_resources(),
        # Steps of a run share one process; waits for pools sleep and free dead runs' slots.
        executor=pool_aware_in_process_executor,
    )


# One Definitions object at module scope: Dagster refuses a module with two.
defs = _with_resources_and_links(dg.load_definitions_from_package_module(jd_helix.defs))
