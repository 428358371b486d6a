"""Running the real assets against a sandbox over loopback HTTP, into a real DuckDB file."""

from datetime import UTC, datetime, timedelta

import dagster as dg
import duckdb

from jd_helix.defs.exceptions.assets import transaction_exceptions
from jd_helix.defs.helix.assets import helix_event_type, helix_events
from jd_helix.defs.helix.checks import helix_events_checks
from jd_helix.defs.hourly_sales.camera_events import transaction_camera_events
from jd_helix.defs.hourly_sales.checks import unmapped_share_below_threshold, valid_transactions
from jd_helix.defs.hourly_sales.store_sales import store_sales
from jd_helix.defs.hourly_sales.transactions import jd_transactions
from jd_helix.defs.reference_data.assets import jd_dimension_assets, verkada_cameras
from jd_helix.lib.partitions import partition_key, partition_range_tags
from jd_helix.resources.exception_settings import ExceptionSettings
from jd_helix.resources.helix_settings import HelixSettings
from jd_helix.resources.hourly_settings import HourlySettings
from jd_helix.resources.jd_api import JdApiResource
from jd_helix.resources.verkada import VerkadaResource
from jd_helix.resources.warehouse import WarehouseResource
from jd_helix_tests import clock

DIMENSION_ASSETS = [*jd_dimension_assets, verkada_cameras, helix_event_type]
HOURLY_CHECKS = [valid_transactions, unmapped_share_below_threshold, helix_events_checks]
HOURLY_ASSETS = [
    jd_transactions,
    transaction_camera_events,
    transaction_exceptions,
    helix_events,
    store_sales,
    *HOURLY_CHECKS,
]


def recent_hours(count: int, ago: int = 2) -> list[datetime]:
    """`count` consecutive whole UTC hours ending `ago` hours before this one (well inside Helix's window).

    "This one" follows the test clock (JD_HELIX_TEST_NOW, see jd_helix_tests/clock.py); the
    volume of sales must not: tests give their sandbox a fixed_sales_per_hour."""
    first = clock.hours_ago(ago + count - 1)
    return [first + timedelta(hours=i) for i in range(count)]


def resources_for(sandbox, database: str, rate_limited: bool = False, **verkada_settings) -> dict:
    limits = {} if rate_limited else {"requests_per_5s": None, "requests_per_minute": None}
    return {
        "jd_api": JdApiResource(base_url=sandbox.jd_base_url, api_key=sandbox.jd_api_key),
        "verkada": VerkadaResource(
            base_url=sandbox.verkada_base_url,
            api_key=sandbox.verkada_api_key,
            **{**limits, **verkada_settings},
        ),
        "warehouse": WarehouseResource(database=database),
        "helix_settings": HelixSettings(),
        "hourly_settings": HourlySettings(),
        "exception_settings": ExceptionSettings(),
    }


def refresh_dimensions(resources: dict, **kwargs) -> dg.ExecuteInProcessResult:
    return dg.materialize(DIMENSION_ASSETS, resources=resources, **kwargs)


def run_hour(resources: dict, hour: datetime, **kwargs) -> dg.ExecuteInProcessResult:
    return dg.materialize(HOURLY_ASSETS, resources=resources, partition_key=partition_key(hour), **kwargs)


def run_hours(resources: dict, first: datetime, last: datetime, **kwargs) -> dg.ExecuteInProcessResult:
    """One run over a range of hours, as a backfill with a multi-hour policy launches it."""
    tags = partition_range_tags(partition_key(first), partition_key(last))
    return dg.materialize(HOURLY_ASSETS, resources=resources, tags=tags, **kwargs)


def query(database: str, sql: str, params=None) -> list[tuple]:
    with duckdb.connect(database, read_only=True) as conn:
        return conn.execute(sql, params or []).fetchall()


def naive(instant: datetime) -> datetime:
    return instant.astimezone(UTC).replace(tzinfo=None)
