"""The jd_helix code location: assets, checks, jobs, schedules, sensor and resources.

Settings come from the environment (see .env.example). The four API settings come all
together or the code location refuses to load, naming the missing ones (jd_helix/api_settings.py);
when none is set, the first step that needs one fails naming it. Secrets are passed as EnvVar
so that the UI shows the variable's name, never its value.
"""

import os

import dagster as dg

from jd_helix.api_settings import check_api_settings
from jd_helix.assets.dimensions import jd_dimension_assets, verkada_cameras
from jd_helix.assets.events import transaction_camera_events
from jd_helix.assets.helix import helix_event_type, helix_events
from jd_helix.assets.rejected_records import jd_rejected_records
from jd_helix.assets.sales import jd_transactions
from jd_helix.assets.store_sales import store_sales
from jd_helix.automation import (
    dimensions_job,
    dimensions_schedule,
    helix_remap_job,
    helix_retry_job,
    helix_retry_sensor,
    hourly_catch_up_sensor,
    hourly_sales_job,
    hourly_sales_schedule,
    rejoin_unmapped_sensor,
)
from jd_helix.checks import hourly_checks
from jd_helix.freshness import freshness_job, freshness_schedule, last_hour_posted_by_deadline
from jd_helix.notifications import alert_sensors
from jd_helix.pools.executor import pool_aware_in_process_executor
from jd_helix.resources.helix_settings import HelixSettings
from jd_helix.resources.hourly_settings import HourlySettings
from jd_helix.resources.jd_api import JdApiResource
from jd_helix.resources.verkada import VerkadaResource
from jd_helix.resources.warehouse import WarehouseResource, database_path
from jd_helix.source_links import with_links_to_bodies


def _from_env(**fields: str) -> dict:
    return {field: dg.EnvVar(var) for field, var in fields.items() if os.environ.get(var)}


def _share_from_env(variable: str) -> dict:
    # Dagster's EnvVar resolves strings and ints only: a share is read here, at load time.
    value = os.environ.get(variable)
    if not value:
        return {}
    try:
        return {"max_unmapped_share": float(value)}
    except ValueError:
        raise ValueError(f"{variable}={value!r} is not a number (a share between 0 and 1, e.g. 0.10)") from None


def build_resources() -> dict:
    check_api_settings(os.environ)
    return {
        "jd_api": JdApiResource(
            **_from_env(base_url="JD_API_BASE_URL", api_key="JD_API_KEY", timezone="JD_API_TIMEZONE")
        ),
        "verkada": VerkadaResource(
            **_from_env(base_url="VERKADA_API_BASE_URL", api_key="VERKADA_API_KEY"),
            # Every run's process counts the org's requests here, beside the warehouse.
            rate_limit_file=f"{database_path()}.verkada-requests.sqlite",
        ),
        "warehouse": WarehouseResource(database=database_path()),
        "helix_settings": HelixSettings(**_from_env(event_type_name="JD_HELIX_EVENT_TYPE")),
        "hourly_settings": HourlySettings(
            **({"lookback_hours": dg.EnvVar.int("JD_HELIX_LOOKBACK_HOURS")} if os.environ.get("JD_HELIX_LOOKBACK_HOURS") else {}),
            **_share_from_env("JD_HELIX_MAX_UNMAPPED_SHARE"),
        ),
    }


defs = dg.Definitions(
    # Each asset links to the file and line of its body (the asset page's "Source code").
    assets=with_links_to_bodies([
        *jd_dimension_assets,
        verkada_cameras,
        jd_transactions,
        transaction_camera_events,
        helix_event_type,
        helix_events,
        store_sales,
        jd_rejected_records,
    ]),
    asset_checks=[*hourly_checks, last_hour_posted_by_deadline],
    jobs=[dimensions_job, hourly_sales_job, helix_retry_job, helix_remap_job, freshness_job],
    schedules=[hourly_sales_schedule, dimensions_schedule, freshness_schedule],
    sensors=[helix_retry_sensor, rejoin_unmapped_sensor, hourly_catch_up_sensor, *alert_sensors],
    resources=build_resources(),
    # Steps of a run share one process; waits for pools sleep and free dead runs' slots.
    executor=pool_aware_in_process_executor,
)
