"""The sandbox is used only on purpose: a half configuration fails before any request,
naming what is missing - at the code location's load (the UI), in `make run`'s output, and
in the first step when none is set - and pipeline code never imports the sandbox."""

from __future__ import annotations

import os
import subprocess
import sys

import dagster as dg
import pytest

from jd_helix.defs.hourly_sales.transactions import jd_transactions
from jd_helix.lib.partitions import partition_key
from jd_helix.resources.helix_settings import HelixSettings
from jd_helix.resources.jd_api import JdApiResource
from jd_helix.resources.upstream_api_settings import API_SETTINGS, HalfConfiguredError, check_api_settings
from jd_helix.resources.verkada import VerkadaResource
from jd_helix.resources.warehouse import WarehouseResource
from jd_helix_tests.e2e.harness import DIMENSION_ASSETS, recent_hours
from jd_helix_tests.wheel import PROJECT_ROOT

ALL = {
    "JD_API_BASE_URL": "https://jd.example.com",
    "JD_API_KEY": "k1",
    "VERKADA_API_BASE_URL": "https://api.verkada.com",
    "VERKADA_API_KEY": "k2",
}


def environment(**settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in API_SETTINGS}
    return {**env, **settings, "PYTHONPATH": str(PROJECT_ROOT)}


@pytest.mark.parametrize("missing", API_SETTINGS)
def test_each_half_configuration_is_refused_naming_what_is_missing(missing):
    given = {k: v for k, v in ALL.items() if k != missing}
    with pytest.raises(HalfConfiguredError) as refused:
        check_api_settings(given)
    assert str(refused.value).startswith(f"{missing} is not set")
    assert "k1" not in str(refused.value) and "k2" not in str(refused.value), "never a key"


def test_all_or_none_of_the_settings_is_accepted():
    check_api_settings(ALL)
    check_api_settings({})


def test_the_code_location_refuses_to_load_half_configured_and_never_imports_the_sandbox():
    probe = (
        "import sys, jd_helix.definitions; print(sorted(m for m in sys.modules if m.startswith('jd_helix.sandbox')))"
    )
    half = {k: v for k, v in ALL.items() if k != "VERKADA_API_BASE_URL"}
    refused = subprocess.run(
        [sys.executable, "-c", probe], env=environment(**half), capture_output=True, text=True, timeout=120
    )
    assert refused.returncode != 0
    assert "HalfConfiguredError: VERKADA_API_BASE_URL is not set" in refused.stderr
    loaded = subprocess.run(
        [sys.executable, "-c", probe], env=environment(**ALL), capture_output=True, text=True, timeout=120
    )
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout.strip().splitlines()[-1] == "[]", "pipeline code imported the sandbox"


def test_make_run_stops_a_half_configuration_before_starting_anything():
    half = {k: v for k, v in ALL.items() if k != "JD_API_KEY"}
    started = subprocess.run(
        [sys.executable, "-m", "jd_helix.cli", "dev", "--port", "1"],
        env=environment(**half),
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert started.returncode != 0
    assert "JD_API_KEY is not set" in started.stderr + started.stdout
    assert "Dagster UI" not in started.stdout and "sandbox" not in started.stdout.lower()


def failure_messages(result: dg.ExecuteInProcessResult) -> list[str]:
    errors = [f.event_specific_data.error for f in result.get_step_failure_events()]
    return [" ".join(filter(None, [e.message, e.cause.message if e.cause else None])) for e in errors]


def test_with_no_settings_at_all_the_first_step_fails_naming_the_setting(tmp_path):
    resources = {
        "jd_api": JdApiResource(),
        "verkada": VerkadaResource(),
        "helix_settings": HelixSettings(),
        "warehouse": WarehouseResource(database=str(tmp_path / "w.duckdb")),
    }
    result = dg.materialize(DIMENSION_ASSETS, resources=resources, raise_on_error=False)
    messages = failure_messages(result)
    assert len(messages) == len(DIMENSION_ASSETS), "every step that needs an API fails"
    assert all(
        "JD_API_BASE_URL is not set" in m or "VERKADA_API_BASE_URL and VERKADA_API_KEY are not set" in m
        for m in messages
    )
    hour = dg.materialize(
        [jd_transactions], resources=resources, partition_key=partition_key(recent_hours(1)[0]), raise_on_error=False
    )
    assert "JD_API_BASE_URL is not set" in failure_messages(hour)[0]


def test_make_run_points_all_four_settings_at_the_sandbox_only_when_none_is_given():
    from jd_helix.cli.dev import choose_apis

    chosen = choose_apis({})
    assert chosen is not None and set(chosen) == set(API_SETTINGS)
    assert chosen["VERKADA_API_BASE_URL"].startswith("http://127.0.0.1:")
    assert choose_apis(ALL) is None, "all four given: the real APIs, no sandbox"
