"""Failures reach a person: real failed runs and real red checks, on a real instance, are
posted to a local webhook receiver by the two alert sensors."""

from __future__ import annotations

import json

import dagster as dg
import duckdb
import pytest
from dagster._core.events import DagsterEventType

from jd_helix.defs.alerts.notifications import WEBHOOK_URL_ENV, alert_on_failed_run, alert_on_red_checks, send
from jd_helix.lib.partitions import partition_key
from jd_helix.resources.helix_settings import HelixSettings
from jd_helix.resources.jd_api import JdApiResource
from jd_helix_tests.e2e.harness import HOURLY_ASSETS, naive, recent_hours, refresh_dimensions, resources_for
from jd_helix_tests.webhook_receiver import webhook_receiver

HOUR = recent_hours(1)[0]
KEY = partition_key(HOUR)
WRONG_JD_KEY = "jd-key-that-must-never-be-shown-0123"


@pytest.fixture
def receiver(monkeypatch):
    with webhook_receiver() as receiver:
        monkeypatch.setenv(WEBHOOK_URL_ENV, receiver.url)
        yield receiver


def failure_context(instance: dg.DagsterInstance, run_id: str) -> dg.RunFailureSensorContext:
    failure = instance.get_records_for_run(run_id, of_type=DagsterEventType.RUN_FAILURE).records[0]
    event, run = failure.event_log_entry.dagster_event, instance.get_run_by_id(run_id)
    assert event is not None and run is not None
    return dg.build_run_status_sensor_context(
        sensor_name=alert_on_failed_run.name,
        dagster_event=event,
        dagster_instance=instance,
        dagster_run=run,
    ).for_run_failure()


def test_a_failed_run_posts_its_hour_asset_and_cause_and_no_key(make_sandbox, tmp_path, receiver, monkeypatch):
    sandbox = make_sandbox(fixed_sales_per_hour=10)
    monkeypatch.setenv("JD_API_KEY", WRONG_JD_KEY)
    resources = {
        **resources_for(sandbox, str(tmp_path / "w.duckdb")),
        "jd_api": JdApiResource(base_url=sandbox.jd_base_url, api_key=dg.EnvVar("JD_API_KEY")),
    }
    with dg.DagsterInstance.ephemeral() as instance:
        result = dg.materialize(
            HOURLY_ASSETS, resources=resources, partition_key=KEY, instance=instance, raise_on_error=False
        )
        assert not result.success
        alert_on_failed_run(failure_context(instance, result.run_id))

    [text] = receiver.texts()
    assert f"hour {KEY} UTC" in text
    assert "asset jd_transactions" in text
    assert "401" in text and "JD_API_KEY" in text, text  # the first line of the cause
    assert "\n" not in text
    assert WRONG_JD_KEY not in text and receiver.url not in text


def test_nothing_is_sent_and_nothing_fails_without_a_webhook(make_sandbox, tmp_path, monkeypatch):
    monkeypatch.delenv(WEBHOOK_URL_ENV, raising=False)
    sandbox = make_sandbox(fixed_sales_per_hour=10)
    resources = {
        **resources_for(sandbox, str(tmp_path / "w.duckdb")),
        "jd_api": JdApiResource(base_url=sandbox.jd_base_url, api_key="wrong"),
    }
    with dg.DagsterInstance.ephemeral() as instance:
        result = dg.materialize(
            HOURLY_ASSETS, resources=resources, partition_key=KEY, instance=instance, raise_on_error=False
        )
        outcome = alert_on_failed_run(failure_context(instance, result.run_id))
        assert isinstance(outcome, dg.SkipReason) and outcome.skip_message is not None
        assert WEBHOOK_URL_ENV in outcome.skip_message
        checks = alert_on_red_checks(dg.build_sensor_context(instance=instance))
        assert isinstance(checks, dg.SkipReason) and checks.skip_message is not None
        assert WEBHOOK_URL_ENV in checks.skip_message


def test_secrets_are_masked_in_whatever_is_sent(receiver, monkeypatch):
    monkeypatch.setenv("VERKADA_API_KEY", "verkada-secret-xyz")
    send(receiver.url, f"cause: token verkada-secret-xyz refused at {receiver.url}")
    [text] = receiver.texts()
    assert text == f"cause: token <VERKADA_API_KEY> refused at <{WEBHOOK_URL_ENV}>"


def tick(instance: dg.DagsterInstance, cursor: str | None) -> str | None:
    context = dg.build_sensor_context(instance=instance, cursor=cursor)
    alert_on_red_checks(context)
    return context.cursor


def run_checks(instance, resources, *assets: str) -> None:
    dg.materialize(
        HOURLY_ASSETS,
        resources={**resources, "helix_settings": HelixSettings(max_attempts=6)},
        partition_key=KEY,
        instance=instance,
        selection=dg.AssetSelection.checks_for_assets(*assets) | dg.AssetSelection.assets("store_sales"),
        raise_on_error=False,
    )


def test_blocking_checks_and_exhausted_retries_alert_once_when_they_turn_red(make_sandbox, tmp_path, receiver):
    sandbox = make_sandbox(fixed_sales_per_hour=20, clean=True)
    database = str(tmp_path / "checks.duckdb")
    resources = resources_for(sandbox, database)
    with dg.DagsterInstance.ephemeral() as instance:
        assert refresh_dimensions(resources, instance=instance).success
        assert dg.materialize(HOURLY_ASSETS, resources=resources, partition_key=KEY, instance=instance).success
        cursor = tick(instance, None)
        assert receiver.texts() == [], "every check passed: nothing to say"

        with duckdb.connect(database) as conn:  # a repeated transaction id and a zero amount
            conn.execute(
                "INSERT INTO jd_transactions SELECT * REPLACE (0 AS transaction_amount) "
                "FROM jd_transactions WHERE sale_hour = ? LIMIT 1",
                [naive(HOUR)],
            )
            conn.execute(
                "UPDATE helix_events SET status = 'failed', attempts = 6 WHERE transaction_id IN "
                "(SELECT transaction_id FROM helix_events LIMIT 2)"
            )
            conn.execute(
                "DELETE FROM helix_events WHERE transaction_id IN "
                "(SELECT transaction_id FROM helix_events WHERE status = 'posted' LIMIT 1)"
            )
        run_checks(instance, resources, "jd_transactions", "helix_events")
        cursor = tick(instance, cursor)
        [text] = receiver.texts()
        lines = text.splitlines()[1:]
        assert len(lines) == 2, text  # ledger_reconciles is red too, but neither blocking nor about retries
        assert all(f"hour {KEY} UTC" in line for line in lines)
        assert any(
            "asset jd_transactions, check valid_transactions: unique_transaction_ids: 1 repeated transaction ids; "
            "no_zero_amounts: 1 transactions with a zero amount" in line
            for line in lines
        ), text
        assert any("asset helix_events, check no_exhausted_retries: 2 events failed 6 times" in line for line in lines)

        run_checks(instance, resources, "jd_transactions")  # still red: no second alert
        cursor = tick(instance, cursor)
        assert len(receiver.texts()) == 1

        with duckdb.connect(database) as conn:  # fixed, then broken again: red again, alert again
            conn.execute("DELETE FROM jd_transactions WHERE transaction_amount = 0")
        run_checks(instance, resources, "jd_transactions")
        cursor = tick(instance, cursor)
        assert (
            len(receiver.texts()) == 1
            and cursor is not None
            and json.loads(cursor)["red"] == [f"helix_events/no_exhausted_retries/{KEY}"]
        )
        with duckdb.connect(database) as conn:
            conn.execute(
                "UPDATE jd_transactions SET transaction_amount = 0 WHERE transaction_id IN "
                "(SELECT transaction_id FROM jd_transactions LIMIT 1)"
            )
        run_checks(instance, resources, "jd_transactions")
        tick(instance, cursor)
        assert len(receiver.texts()) == 2 and "no_zero_amounts" in receiver.texts()[1]
        assert "unique_transaction_ids" not in receiver.texts()[1]
