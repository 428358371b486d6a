"""The code location's resources, built from the environment (see .env.example).

The four API settings come all together or the code location refuses to load, naming the
missing ones (upstream_api_settings.py); when none is set, the first step that needs one
fails naming it. Secrets are passed as EnvVar so that the UI shows the variable's name,
never its value.
"""

import os

import dagster as dg

from jd_helix.domain.event_types import load_event_types
from jd_helix.resources.exception_settings import ExceptionSettings
from jd_helix.resources.helix_settings import DEFAULT_EVENT_TYPE_NAME, HelixSettings
from jd_helix.resources.hourly_settings import HourlySettings
from jd_helix.resources.jd_api import JdApiResource
from jd_helix.resources.upstream_api_settings import check_api_settings
from jd_helix.resources.verkada import VerkadaResource
from jd_helix.resources.warehouse import WarehouseResource, database_path


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


def _helix_settings() -> HelixSettings:
    # The file's path as a value (not an EnvVar): the UI shows which file the types come from.
    types_file = os.environ.get("JD_HELIX_EVENT_TYPES_FILE", "")
    # Checked now, at load: a bad event types file stops the code location, naming its line.
    load_event_types(types_file, DEFAULT_EVENT_TYPE_NAME)
    return HelixSettings(**_from_env(event_type_name="JD_HELIX_EVENT_TYPE"), event_types_file=types_file)


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
        "helix_settings": _helix_settings(),
        "hourly_settings": HourlySettings(
            **(
                {"lookback_hours": dg.EnvVar.int("JD_HELIX_LOOKBACK_HOURS")}
                if os.environ.get("JD_HELIX_LOOKBACK_HOURS")
                else {}
            ),
            **_share_from_env("JD_HELIX_MAX_UNMAPPED_SHARE"),
        ),
        "exception_settings": ExceptionSettings(),
    }
