"""`jd-helix check-daemon`: heartbeats read from the instance, the webhook fired from outside the
daemon when one is too old or missing, nothing sent while the daemon reports."""

from __future__ import annotations

import time

import dagster as dg
import pytest
from click.testing import CliRunner
from dagster._daemon.types import DaemonHeartbeat

from jd_helix.cli.main import main
from jd_helix.defs.alerts.notifications import UI_URL_ENV, WEBHOOK_URL_ENV
from jd_helix_tests.webhook_receiver import webhook_receiver


@pytest.fixture
def instance(tmp_path, monkeypatch):
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
        yield instance


def beat_all(instance, age_s: float, skip: str | None = None) -> None:
    for daemon_type in instance.get_required_daemon_types():
        if daemon_type != skip:
            instance.add_daemon_heartbeat(DaemonHeartbeat(time.time() - age_s, daemon_type, "daemon-1", errors=[]))


def check(*args: str):
    return CliRunner().invoke(main, ["check-daemon", *args])


def test_a_daemon_that_reports_raises_nothing(instance, monkeypatch):
    with webhook_receiver() as receiver:
        monkeypatch.setenv(WEBHOOK_URL_ENV, receiver.url)
        beat_all(instance, age_s=20)
        result = check("--max-age-minutes", "5")
        assert result.exit_code == 0, result.output
        assert "daemon alive" in result.output
        assert receiver.texts() == []


def test_a_stopped_daemon_fires_the_webhook_naming_the_silent_loops(instance, monkeypatch):
    with webhook_receiver() as receiver:
        monkeypatch.setenv(WEBHOOK_URL_ENV, receiver.url)
        monkeypatch.setenv(UI_URL_ENV, "https://dagster.example.com/")
        beat_all(instance, age_s=20)
        beat_all(instance, age_s=11 * 60, skip="SENSOR")  # everything but the sensor loop stopped 11 min ago
        result = check("--max-age-minutes", "10")
        assert result.exit_code == 1
        [text] = receiver.texts()
        assert "the Dagster daemon has not reported for over 10 min" in text
        assert "SCHEDULER last reported 11.0 min ago" in text and "SENSOR" not in text
        assert "https://dagster.example.com/deployment/daemons" in text
        assert receiver.url not in result.output, "the webhook URL is a secret"


def test_a_daemon_that_never_started_counts_as_stopped_and_without_a_webhook_the_exit_code_says_so(
    instance, monkeypatch
):
    monkeypatch.delenv(WEBHOOK_URL_ENV, raising=False)
    result = check()
    assert result.exit_code == 1
    assert "never reported" in result.output and f"{WEBHOOK_URL_ENV} is not set" in result.output
