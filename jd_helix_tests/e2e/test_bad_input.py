"""Wrong keys and broken upstream pages fail the step with a message a person can act on."""

import dagster as dg
import pytest

from jd_helix.defs.hourly_sales.transactions import jd_transactions
from jd_helix.lib.partitions import partition_key
from jd_helix.resources.jd_api import JdApiResource
from jd_helix.resources.verkada import VerkadaResource
from jd_helix.sandbox import Sandbox, SandboxConfig
from jd_helix_tests.e2e.harness import DIMENSION_ASSETS, recent_hours, resources_for, run_hour

HOUR = recent_hours(1)[0]
CONFIG = SandboxConfig(seed=9, fixed_sales_per_hour=40, rate_limit_per_5s=None, rate_limit_per_minute=None)
WRONG_KEY = "wrong-key-7f3a9c"


def failure_message(result: dg.ExecuteInProcessResult) -> str:
    [failure] = result.get_step_failure_events()
    error = failure.event_specific_data.error
    return "\n".join(filter(None, [error.message, error.cause.message if error.cause else None]))


@pytest.fixture
def sandbox():
    with Sandbox.running(CONFIG, port=0) as running:
        yield running


def test_a_wrong_jd_key_fails_at_once_naming_the_setting_not_the_key(sandbox, tmp_path):
    resources = resources_for(sandbox, str(tmp_path / "w.duckdb"))
    resources["jd_api"] = JdApiResource(base_url=sandbox.jd_base_url, api_key=WRONG_KEY, fetch_concurrency=1)
    result = dg.materialize(
        [jd_transactions], resources=resources, partition_key=partition_key(HOUR), raise_on_error=False
    )
    message = failure_message(result)
    assert "JD_API_KEY" in message and WRONG_KEY not in message
    # The step's own error leads with the cause, not with Dagster's wrapper and a stack trace.
    [failure] = result.get_step_failure_events()
    assert "JD_API_KEY" in failure.event_specific_data.error.message.splitlines()[0]
    assert "JD_API_KEY" in failure.event_specific_data.user_failure_data.description
    refused = sum(n for (api, _, status), n in sandbox.stats().items() if api == "jd" and status == 401)
    assert refused == 1, "a refused key is not retried"


def test_a_wrong_verkada_key_fails_naming_the_setting_not_the_key(sandbox, tmp_path):
    resources = resources_for(sandbox, str(tmp_path / "w.duckdb"))
    resources["verkada"] = VerkadaResource(base_url=sandbox.verkada_base_url, api_key=WRONG_KEY)
    result = dg.materialize(DIMENSION_ASSETS, resources=resources, raise_on_error=False)
    messages = [
        "\n".join(
            filter(
                None, [f.event_specific_data.error.message, getattr(f.event_specific_data.error.cause, "message", None)]
            )
        )
        for f in result.get_step_failure_events()
    ]
    assert messages and all("VERKADA_API_KEY" in m and WRONG_KEY not in m for m in messages)
    assert result.asset_materializations_for_node("jd_stores"), "the JD side still refreshes"


def test_a_base_url_without_its_key_names_the_missing_setting(sandbox, tmp_path):
    resources = resources_for(sandbox, str(tmp_path / "w.duckdb"))
    resources["jd_api"] = JdApiResource(base_url=sandbox.jd_base_url)
    result = dg.materialize(
        [jd_transactions], resources=resources, partition_key=partition_key(HOUR), raise_on_error=False
    )
    assert "JD_API_KEY" in failure_message(result)


def test_a_page_that_is_not_json_fails_the_step_naming_endpoint_and_page(sandbox, tmp_path):
    sandbox.faults.update(api="jd", non_json_endpoint="sales")
    resources = resources_for(sandbox, str(tmp_path / "w.duckdb"))
    resources["jd_api"] = JdApiResource(base_url=sandbox.jd_base_url, api_key=sandbox.jd_api_key, fetch_concurrency=1)
    result = run_hour(resources, HOUR, raise_on_error=False)
    message = failure_message(result)
    assert "/v1/sales" in message and "page 1" in message and "not JSON" in message
    assert not result.asset_materializations_for_node("helix_events")
