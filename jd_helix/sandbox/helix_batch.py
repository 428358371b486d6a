"""Helix batch jobs: accepted at once (202), applied a little later (`batch_delay_s`).

Jobs are applied lazily: whenever the Verkada state is touched, every job whose delay has
passed is applied, item by item, under the same rules as a single POST. The items that
break them are listed in the job's failure file (served under /_sandbox/batch/).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from jd_helix.sandbox.config import SandboxConfig
from jd_helix.sandbox.hashing import seeded_uuid, str_key
from jd_helix.sandbox.helix_events import HelixEvents
from jd_helix.sandbox.reply import Reply, verkada_error
from jd_helix.sandbox.verkada_request import InvalidRequest, json_body

MAX_ITEMS = 1000


class BatchJobs:
    def __init__(self, events: HelixEvents, config: SandboxConfig, base_url: Callable[[], str]):
        self.events = events
        self.config = config
        self.base_url = base_url
        self.jobs: dict[str, dict[str, Any]] = {}
        self._pending: list[str] = []
        self._job_seq = 0

    def advance(self) -> None:
        """Apply every batch job whose delay has passed."""
        with self.events.lock:
            if not self._pending:
                return
            now = time.monotonic()
            still_pending = []
            for job_id in self._pending:
                job = self.jobs[job_id]
                if now - job["created"] >= self.config.batch_delay_s:
                    self._apply(job)
                else:
                    still_pending.append(job_id)
            self._pending = still_pending

    def _apply(self, job: dict[str, Any]) -> None:
        failures = []
        for index, item in enumerate(job["items"]):
            try:
                key, attributes, flagged = self.events.validate_event(item)
            except InvalidRequest as e:
                failures.append({"index": index, "error": str(e), "item": item})
                continue
            self.events.upsert(key, attributes, flagged, "batch")
        job["failures"] = failures
        job["status"] = "failed" if failures and len(failures) == len(job["items"]) else "completed"
        job["items"] = None

    # ---------------------------------------------------------------- endpoints
    def create(self, body: bytes) -> Reply:
        items = json_body(body).get("items")
        if not isinstance(items, list) or not 1 <= len(items) <= MAX_ITEMS:
            raise InvalidRequest("items must be a list of 1 to 1000 events")
        self._job_seq += 1
        job_id = seeded_uuid(self.config.seed, str_key("job"), self._job_seq)
        self.jobs[job_id] = {
            "job_id": job_id,
            "status": "pending",
            "total_items": len(items),
            "items": items,  # as sent: parsed from this request's body, nobody else holds them
            "created": time.monotonic(),
            "failures": None,
        }
        self._pending.append(job_id)
        if self.config.batch_delay_s <= 0:
            self.advance()
        return Reply(202, {"job_id": job_id}, wrote=True)

    def status(self, job_id: str) -> Reply:
        job = self.jobs.get(job_id)
        if job is None:
            return verkada_error(404, f"No batch job {job_id!r}")
        status = job["status"]
        if status == "pending" and time.monotonic() - job["created"] >= self.config.batch_delay_s / 2:
            status = "processing"
        failed = len(job["failures"]) if job["failures"] is not None else 0
        url = f"{self.base_url()}/_sandbox/batch/{quote(job_id)}/failures.json" if failed else None
        return Reply(
            200,
            {
                "job_id": job_id,
                "status": status,
                "total_items": job["total_items"],
                "failed_items": failed,
                "failure_file_url": url,
            },
        )

    def failure_file(self, job_id: str) -> Reply:
        self.advance()
        with self.events.lock:
            job = self.jobs.get(job_id)
            if job is None or job["failures"] is None:
                return verkada_error(404, "No such failure file")
            return Reply(200, job["failures"])
