"""A small client for the Dagster webserver's GraphQL API: the calls the UI makes to launch a
run, launch a partition backfill and follow them. Used by benchmarks/backfill.py."""

from __future__ import annotations

import time
from typing import Any

import requests

TERMINAL_RUN_STATUSES = {"SUCCESS", "FAILURE", "CANCELED"}
TERMINAL_BACKFILL_STATUSES = {"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"}

LAUNCH_RUN = """
mutation LaunchPipelineExecution($executionParams: ExecutionParams!) {
  launchPipelineExecution(executionParams: $executionParams) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message stack }
    ... on RunConfigValidationInvalid { errors { message } }
    ... on InvalidSubsetError { message }
    ... on PipelineNotFoundError { message }
    ... on UnauthorizedError { message }
  }
}
"""

# The mutation the UI's "Materialize selected" -> partitions dialog sends for an asset selection
# (LaunchAssetChoosePartitionsDialog.onLaunchAsBackfill -> LAUNCH_PARTITION_BACKFILL_MUTATION).
LAUNCH_PARTITION_BACKFILL = """
mutation LaunchPartitionBackfill($backfillParams: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $backfillParams) {
    __typename
    ... on LaunchBackfillSuccess { backfillId launchedRunIds }
    ... on PartitionSetNotFoundError { message }
    ... on PartitionKeysNotFoundError { message }
    ... on InvalidStepError { invalidStepKey }
    ... on InvalidOutputError { stepKey invalidOutputName }
    ... on PythonError { message stack }
    ... on UnauthorizedError { message }
    ... on InvalidSubsetError { message }
    ... on ConflictingExecutionParamsError { message }
  }
}
"""

BACKFILL = """
query Backfill($backfillId: String!) {
  partitionBackfillOrError(backfillId: $backfillId) {
    __typename
    ... on PartitionBackfill { id status numPartitions error { message } }
    ... on PythonError { message }
    ... on BackfillNotFoundError { message }
  }
}
"""

RUNS = """
query Runs($filter: RunsFilter, $limit: Int) {
  runsOrError(filter: $filter, limit: $limit) {
    __typename
    ... on Runs { results { runId jobName status startTime endTime creationTime tags { key value } } }
    ... on PythonError { message }
  }
}
"""

RUN_ERRORS = """
query RunErrors($runId: ID!) {
  logsForRun(runId: $runId, limit: 5000) {
    __typename
    ... on EventConnection {
      events {
        __typename
        ... on MessageEvent { message level stepKey }
        ... on ExecutionStepFailureEvent { error { message causes { message } } }
        ... on RunFailureEvent { error { message } }
      }
    }
  }
}
"""

LOCATIONS = """
{
  workspaceOrError {
    __typename
    ... on Workspace {
      locationEntries {
        name
        loadStatus
        locationOrLoadError {
          __typename
          ... on RepositoryLocation { repositories { name } }
          ... on PythonError { message }
        }
      }
    }
  }
}
"""

RELOAD_LOCATION = """
mutation ReloadLocation($location: String!) {
  reloadRepositoryLocation(repositoryLocationName: $location) {
    __typename
    ... on WorkspaceLocationEntry { name }
    ... on PythonError { message }
    ... on UnauthorizedError { message }
    ... on RepositoryLocationNotFound { message }
    ... on ReloadNotSupported { message }
  }
}
"""

DAEMONS = """
{ instance { daemonHealth { allDaemonStatuses { daemonType healthy required } } } }
"""


class GraphQLError(RuntimeError):
    pass


class DagsterGraphQL:
    def __init__(self, url: str, timeout_s: float = 60.0):
        self.url = url.rstrip("/") + "/graphql"
        self.timeout_s = timeout_s
        self.session = requests.Session()

    def query(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        response = self.session.post(
            self.url, json={"query": query, "variables": variables or {}}, timeout=self.timeout_s
        )
        response.raise_for_status()
        body = response.json()
        if body.get("errors"):
            raise GraphQLError(str(body["errors"])[:2000])
        return body["data"]

    # --- readiness
    def wait_until_loaded(self, location: str, timeout_s: float) -> str:
        """Wait for the webserver and the code location; return the repository name."""
        deadline = time.monotonic() + timeout_s
        last: Any = None
        while time.monotonic() < deadline:
            try:
                data = self.query(LOCATIONS)["workspaceOrError"]
                for entry in data.get("locationEntries", []):
                    if entry["name"] != location:
                        continue
                    loaded = entry.get("locationOrLoadError") or {}
                    last = loaded
                    if loaded.get("__typename") == "PythonError":
                        raise GraphQLError(f"code location {location} failed to load: {loaded['message']}")
                    if loaded.get("__typename") == "RepositoryLocation":
                        return loaded["repositories"][0]["name"]
            except (requests.ConnectionError, requests.Timeout) as exc:
                last = exc
            time.sleep(1)
        raise TimeoutError(f"code location {location} not loaded after {timeout_s:.0f} s (last: {last})")

    def reload_location(self, location: str) -> None:
        """What the UI's "Reload" button on a code location does."""
        result = self.query(RELOAD_LOCATION, {"location": location})["reloadRepositoryLocation"]
        if result["__typename"] != "WorkspaceLocationEntry":
            raise GraphQLError(f"reload of {location} failed: {result}")

    def wait_for_daemons(self, timeout_s: float, needed=("BACKFILL", "QUEUED_RUN_COORDINATOR")) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            statuses = self.query(DAEMONS)["instance"]["daemonHealth"]["allDaemonStatuses"]
            healthy = {s["daemonType"] for s in statuses if s["healthy"]}
            if all(n in healthy for n in needed):
                return
            time.sleep(1)
        raise TimeoutError(f"daemons {needed} not healthy after {timeout_s:.0f} s")

    # --- launching
    def launch_run(self, location: str, repository: str, job: str, tags: dict[str, str] | None = None) -> str:
        params = {
            "selector": {"repositoryLocationName": location, "repositoryName": repository, "jobName": job},
            "runConfigData": {},
            "mode": "default",
            "executionMetadata": {"tags": [{"key": k, "value": v} for k, v in (tags or {}).items()]},
        }
        result = self.query(LAUNCH_RUN, {"executionParams": params})["launchPipelineExecution"]
        if result["__typename"] != "LaunchRunSuccess":
            raise GraphQLError(f"launch of {job} failed: {result}")
        return result["run"]["runId"]

    def launch_asset_backfill(
        self, asset_keys: list[str], partition_names: list[str], tags: dict[str, str] | None = None
    ) -> str:
        """Exactly the params the UI sends for an asset selection (not a named job)."""
        params = {
            "tags": [{"key": k, "value": v} for k, v in (tags or {}).items()],
            "assetSelection": [{"path": [key]} for key in asset_keys],
            "partitionNames": partition_names,
            "fromFailure": False,
        }
        result = self.query(LAUNCH_PARTITION_BACKFILL, {"backfillParams": params})["launchPartitionBackfill"]
        if result["__typename"] != "LaunchBackfillSuccess":
            raise GraphQLError(f"backfill launch failed: {result}")
        return result["backfillId"]

    # --- following
    def backfill(self, backfill_id: str) -> dict[str, Any]:
        result = self.query(BACKFILL, {"backfillId": backfill_id})["partitionBackfillOrError"]
        if result["__typename"] != "PartitionBackfill":
            raise GraphQLError(f"backfill {backfill_id}: {result}")
        return result

    def runs(self, tags: dict[str, str] | None = None, run_ids: list[str] | None = None) -> list[dict[str, Any]]:
        run_filter: dict[str, Any] = {}
        if tags:
            run_filter["tags"] = [{"key": k, "value": v} for k, v in tags.items()]
        if run_ids:
            run_filter["runIds"] = run_ids
        result = self.query(RUNS, {"filter": run_filter, "limit": 100000})["runsOrError"]
        if result["__typename"] != "Runs":
            raise GraphQLError(f"runs query failed: {result}")
        return result["results"]

    def wait_for_runs(self, run_ids: list[str], timeout_s: float, poll_s: float = 2.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout_s
        while True:
            runs = self.runs(run_ids=run_ids)
            if len(runs) == len(run_ids) and all(r["status"] in TERMINAL_RUN_STATUSES for r in runs):
                return runs
            if time.monotonic() > deadline:
                raise TimeoutError(f"runs not finished after {timeout_s:.0f} s: {[r['status'] for r in runs]}")
            time.sleep(poll_s)

    def run_errors(self, run_id: str, limit: int = 5) -> list[str]:
        """The first error messages of a run's event log."""
        result = self.query(RUN_ERRORS, {"runId": run_id})["logsForRun"]
        messages: list[str] = []
        for event in result.get("events", []):
            error = event.get("error")
            if error:
                causes = " <- ".join(c["message"].strip() for c in error.get("causes") or [])
                messages.append(
                    f"{event['__typename']}: {error['message'].strip()}" + (f" <- {causes}" if causes else "")
                )
            elif event.get("level") == "ERROR":
                messages.append(f"{event['__typename']}: {event['message'].strip()}")
        return messages[:limit]


RUN_STEPS = """
query RunSteps($runId: ID!) {
  runOrError(runId: $runId) {
    __typename
    ... on Run { stepStats { stepKey status startTime endTime } }
  }
}
"""


def step_stats(client: DagsterGraphQL, run_id: str) -> list[dict[str, Any]]:
    result = client.query(RUN_STEPS, {"runId": run_id})["runOrError"]
    return result.get("stepStats", []) if result["__typename"] == "Run" else []
