"""Failures that reach a person: a failed run, a failed blocking check and `no_exhausted_retries`
turning red are posted to a Slack-compatible webhook (`{"text": ...}`).

Off unless JD_HELIX_ALERT_WEBHOOK_URL is set (the sensors then skip every tick). A message
says the hour, the asset and the first line of the cause, with a link to the run when
JD_HELIX_UI_URL is set. The API keys and the webhook URL itself are masked wherever they would
appear. A webhook that is down is tried three times with backoff; after that the error shows
on the sensor's tick (and in the failed run's log); red checks are then sent again next tick.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping

import dagster as dg
import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from jd_helix.lib.partitions import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG, PARTITION_NAME_TAG

WEBHOOK_URL_ENV = "JD_HELIX_ALERT_WEBHOOK_URL"
UI_URL_ENV = "JD_HELIX_UI_URL"
# Values that must never leave in a message, whatever a cause carries.
SECRET_ENVS = ("JD_API_KEY", "VERKADA_API_KEY", WEBHOOK_URL_ENV)
# A check that is not blocking still needs a person when events ran out of attempts.
ALWAYS_ALERTING_CHECKS = {"no_exhausted_retries"}
MAX_CAUSE_CHARS = 300
MAX_CHECK_LINES = 20
EVALUATIONS_PER_TICK = 1000
NOT_CONFIGURED = f"{WEBHOOK_URL_ENV} is not set: alerts are off"


def mask_secrets(text: str) -> str:
    for name in SECRET_ENVS:
        value = os.environ.get(name)
        if value:
            text = text.replace(value, f"<{name}>")
    return text


def first_line(text: str | None) -> str:
    line = next((line.strip() for line in (text or "").splitlines() if line.strip()), "no cause recorded")
    return line if len(line) <= MAX_CAUSE_CHARS else line[: MAX_CAUSE_CHARS - 1] + "…"


def hours_of(tags: Mapping[str, str]) -> str:
    if PARTITION_NAME_TAG in tags:
        return f"hour {tags[PARTITION_NAME_TAG]} UTC"
    if ASSET_PARTITION_RANGE_START_TAG in tags:
        return f"hours {tags[ASSET_PARTITION_RANGE_START_TAG]} .. {tags[ASSET_PARTITION_RANGE_END_TAG]} UTC"
    return "no hour (unpartitioned run)"


def run_link(run_id: str) -> str:
    base = os.environ.get(UI_URL_ENV, "").rstrip("/")
    return f"{base}/runs/{run_id}" if base else f"run {run_id}"


def send(webhook_url: str, text: str) -> None:
    retries = Retry(total=3, backoff_factor=1.0, status_forcelist=(429, 500, 502, 503, 504), allowed_methods=None)
    with requests.Session() as session:
        session.mount("http://", HTTPAdapter(max_retries=retries))
        session.mount("https://", HTTPAdapter(max_retries=retries))
        try:
            response = session.post(webhook_url, json={"text": mask_secrets(text)}, timeout=10)
        except requests.RequestException as error:
            # The URL is a secret: name the variable, not the address.
            raise RuntimeError(
                f"the alert webhook ({WEBHOOK_URL_ENV}) could not be reached: {type(error).__name__}"
            ) from None
    if response.status_code >= 300:
        raise RuntimeError(f"the alert webhook ({WEBHOOK_URL_ENV}) answered HTTP {response.status_code}")


def _root_cause(error) -> str:
    while error is not None and error.cause is not None:  # the asset's own exception, not Dagster's wrapper
        error = error.cause
    return error.message if error is not None else ""


def failed_run_message(context: dg.RunFailureSensorContext) -> str:
    run = context.dagster_run
    step_failures = context.get_step_failure_events()
    if step_failures:
        asset = step_failures[0].step_key
        cause = _root_cause(step_failures[0].step_failure_data.error)
    else:
        # The run died outside a step (killed worker, lost pod): name the step it was in.
        unfinished = [s.step_key for s in context.instance.get_run_step_stats(run.run_id) if s.end_time is None]
        asset = ", ".join(unfinished) or "none (no step had started)"
        cause = context.failure_event.message
    return (
        f":red_circle: jd_helix: run of {run.job_name} failed - {hours_of(run.tags)}, asset {asset}: "
        f"{first_line(cause)} ({run_link(run.run_id)})"
    )


@dg.run_failure_sensor(
    name="alert_on_failed_run",
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=f"Posts each failed run (hour, asset, first line of the cause) to {WEBHOOK_URL_ENV}, when set.",
)
def alert_on_failed_run(context: dg.RunFailureSensorContext):
    webhook_url = os.environ.get(WEBHOOK_URL_ENV)
    if not webhook_url:
        return dg.SkipReason(NOT_CONFIGURED)
    send(webhook_url, failed_run_message(context))


def alerting(evaluation: dg.AssetCheckEvaluation) -> bool:
    return bool(evaluation.blocking) or evaluation.check_name in ALWAYS_ALERTING_CHECKS


def check_line(evaluation: dg.AssetCheckEvaluation, run_id: str) -> str:
    hour = f"hour {evaluation.partition} UTC" if evaluation.partition else "no hour"
    return (
        f"{hour}, asset {evaluation.asset_key.to_user_string()}, check {evaluation.check_name}: "
        f"{first_line(evaluation.description)} ({run_link(run_id)})"
    )


def red_check_changes(records, red: set[str]) -> tuple[list[str], set[str]]:
    """Fold a batch of evaluations (oldest first) into the set of red (check, hour) keys; the
    lines to send are those of keys that turned red in this batch and are still red at its end."""
    latest = {}
    for record in records:
        evaluation = record.event_log_entry.dagster_event.event_specific_data
        if alerting(evaluation):
            key = f"{evaluation.asset_key.to_user_string()}/{evaluation.check_name}/{evaluation.partition}"
            latest[key] = (evaluation, record.event_log_entry.run_id)
    lines, still_red = [], set(red)
    for key, (evaluation, run_id) in latest.items():
        if evaluation.passed:
            still_red.discard(key)
        elif key not in still_red:
            still_red.add(key)
            lines.append(check_line(evaluation, run_id))
    return lines, still_red


def red_checks_message(lines: list[str]) -> str:
    shown = "\n".join(f"- {line}" for line in lines[:MAX_CHECK_LINES])
    more = f"\n- and {len(lines) - MAX_CHECK_LINES} more: see Assets -> Checks" if len(lines) > MAX_CHECK_LINES else ""
    return f":large_red_square: jd_helix: {len(lines)} check(s) turned red\n{shown}{more}"


@dg.sensor(
    name="alert_on_red_checks",
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        f"Posts blocking checks and no_exhausted_retries that turn red (hour, asset, cause) to {WEBHOOK_URL_ENV}, "
        "when set; once per check and hour until it passes again."
    ),
)
def alert_on_red_checks(context: dg.SensorEvaluationContext):
    webhook_url = os.environ.get(WEBHOOK_URL_ENV)
    if not webhook_url:
        return dg.SkipReason(NOT_CONFIGURED)
    state = json.loads(context.cursor) if context.cursor else {"after": None, "red": []}
    records = context.instance.event_log_storage.get_event_records(
        dg.EventRecordsFilter(event_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION, after_cursor=state["after"]),
        limit=EVALUATIONS_PER_TICK,
        ascending=True,
    )
    if not records:
        return dg.SkipReason("no new check evaluations")
    lines, red = red_check_changes(records, set(state["red"]))
    if lines:
        send(webhook_url, red_checks_message(lines))
    context.update_cursor(json.dumps({"after": records[-1].storage_id, "red": sorted(red)}))
    return None if lines else dg.SkipReason(f"{len(records)} evaluations, none newly red")


alert_sensors = [alert_on_failed_run, alert_on_red_checks]
