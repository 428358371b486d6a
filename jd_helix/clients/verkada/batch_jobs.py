"""Posting through Helix batch jobs: submit several, poll them with backoff, map failures back.

A job's failure file names the items Helix refused (by position in the batch): those are
skipped with Helix's reason, the rest of a completed job are posted. Where the batch
endpoint is missing (404/403) or refuses a whole batch (400), the events are handed back
to be posted one by one.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from jd_helix.clients.verkada.endpoints import BATCH_PATH
from jd_helix.clients.verkada.errors import VerkadaAuthError, VerkadaError, parse_json, server_message
from jd_helix.clients.verkada.events import HelixEvent, PostOutcome, ReadyEvent, ReportOutcomes
from jd_helix.clients.verkada.limits import MAX_BATCH_ITEMS
from jd_helix.clients.verkada.settings import VerkadaClientSettings, check_base_url
from jd_helix.clients.verkada.transport import VerkadaTransport
from jd_helix.domain.helix_status import HelixStatus

log = logging.getLogger(__name__)


@dataclass
class _Job:
    """A submitted batch: its events (with their positions in the caller's list)."""

    job_id: str
    entries: list[tuple[int, HelixEvent]]
    submitted_at: float
    next_poll_at: float
    poll_interval: float
    polls: int = 0


class BatchPoster:
    """Posts events in batch jobs for one client; remembers when the endpoint is missing."""

    def __init__(
        self,
        transport: VerkadaTransport,
        settings: VerkadaClientSettings,
        monotonic: Callable[[], float],
        sleep: Callable[[float], None],
    ) -> None:
        self._transport = transport
        self._settings = settings
        self._monotonic = monotonic
        self._sleep = sleep
        self.supported = True  # False once the batch endpoint answered 404/403

    def post(self, batches: Iterable[list[ReadyEvent]], report: ReportOutcomes) -> list[ReadyEvent]:
        """Post each of ``batches`` as a job; return what must go one by one instead.

        ``batches`` may be lazy: the next one is taken only when it can be submitted. Once
        the endpoint turns out to be missing no more are taken: the caller posts the rest
        of ``batches`` one by one after the ones returned.
        """
        pending = iter(batches)
        batch = next(pending, None)
        singles: list[ReadyEvent] = []
        in_flight: list[_Job] = []
        while batch is not None or in_flight:
            # Submit while there is room: polls wait until several jobs are out. With
            # enough jobs in flight (max_jobs_in_flight) a request is ready for every slot
            # the rate limiter gives, and each job is polled once, after it has finished.
            while batch is not None and len(in_flight) < max(1, self._settings.max_jobs_in_flight) and self.supported:
                job = self._submit(batch, report, singles)
                if job is not None:
                    in_flight.append(job)
                batch = next(pending, None)
            if not self.supported and batch is not None:
                singles.extend(batch)
                batch = None
            if not in_flight:
                continue
            job = min(in_flight, key=lambda j: j.next_poll_at)
            delay = job.next_poll_at - self._monotonic()
            if delay > 0:
                self._sleep(delay)
            if self._poll(job, report):
                in_flight.remove(job)
        return singles

    def _submit(self, batch: list[ReadyEvent], report: ReportOutcomes, singles: list[ReadyEvent]) -> _Job | None:
        try:
            response = self._transport.send("POST", BATCH_PATH, json_body={"items": [body for _, _, body in batch]})
        except VerkadaAuthError:
            raise
        except VerkadaError as exc:
            report([(index, PostOutcome(event.key, HelixStatus.FAILED, str(exc))) for index, event, _ in batch])
            return None
        status = response.status_code
        if status in (403, 404):
            log.warning("Verkada batch endpoint answered %s: posting events one by one from now on", status)
            self.supported = False
            singles.extend(batch)
            return None
        if status == 400:
            # The whole batch was refused; post its events singly so that each gets
            # its own verdict instead of condemning 1,000 events for one bad one.
            message, _ = server_message(response)
            log.warning(
                "Verkada refused a batch (400: %s); posting its events one by one", self._transport.redact(message)
            )
            singles.extend(batch)
            return None
        if status not in (200, 202):
            message, _ = server_message(response)
            reason = f"batch submit failed (HTTP {status}): {self._transport.redact(message)}"
            report([(index, PostOutcome(event.key, HelixStatus.FAILED, reason)) for index, event, _ in batch])
            return None
        job_id = (parse_json(response, "batch submit") or {}).get("job_id")
        if not job_id:
            reason = "batch submit returned no job_id"
            report([(index, PostOutcome(event.key, HelixStatus.FAILED, reason)) for index, event, _ in batch])
            return None
        now = self._monotonic()
        # A job takes time to run; the first poll comes later for bigger batches.
        first = self._settings.poll_first_after_s * (1 + len(batch) / MAX_BATCH_ITEMS)
        return _Job(str(job_id), [(index, event) for index, event, _ in batch], now, now + first, first)

    def _poll(self, job: _Job, report: ReportOutcomes) -> bool:
        """Poll ``job`` once; report and return True once it is final."""
        job.polls += 1
        try:
            response = self._transport.send("GET", f"{BATCH_PATH}/{job.job_id}")
            status = response.status_code
            body = parse_json(response, "batch status") if status == 200 else None
        except VerkadaAuthError:
            raise
        except VerkadaError as exc:
            status, body = None, None
            log.warning("Polling Verkada batch job %s failed: %s", job.job_id, exc)
        state = body.get("status") if isinstance(body, dict) else None
        if state == "completed" and isinstance(body, dict):
            report(self._completed_outcomes(job, body))
            return True
        if state == "failed" and isinstance(body, dict):
            # A failed job's items are worth another try, except those its failure file
            # (if it has one) names as invalid: those are skipped with Helix's reason.
            report(self._completed_outcomes(job, body, default=HelixStatus.FAILED))
            return True
        if status == 404 or self._monotonic() - job.submitted_at > self._settings.job_timeout_s:
            reason = f"Helix batch job {job.job_id} did not finish (status {state or status})"
            report([(index, PostOutcome(event.key, HelixStatus.FAILED, reason)) for index, event in job.entries])
            return True
        job.poll_interval = min(job.poll_interval * 1.6, self._settings.poll_max_interval_s)
        job.next_poll_at = self._monotonic() + job.poll_interval * random.uniform(0.9, 1.1)
        return False

    def _completed_outcomes(
        self, job: _Job, body: dict[str, Any], default: HelixStatus = HelixStatus.POSTED
    ) -> list[tuple[int, PostOutcome]]:
        """Outcomes of a finished job: items in the failure file are skipped with their
        error, the others get ``default`` (posted for a completed job)."""
        failed_items = int(body.get("failed_items") or 0)
        failures: dict[int, str] = {}
        if failed_items > 0 and (default == HelixStatus.POSTED or body.get("failure_file_url")):
            try:
                failures = self._read_failure_file(body.get("failure_file_url"))
            except VerkadaAuthError:
                raise
            except VerkadaError as exc:
                reason = f"{failed_items} items of job {job.job_id} failed and the failure file is unreadable: {exc}"
                return [(index, PostOutcome(event.key, HelixStatus.FAILED, reason)) for index, event in job.entries]
        out = []
        for position, (index, event) in enumerate(job.entries):
            if position in failures:
                out.append((index, PostOutcome(event.key, HelixStatus.SKIPPED, failures[position])))
            elif default == HelixStatus.POSTED:
                out.append((index, PostOutcome(event.key, HelixStatus.POSTED)))
            else:
                out.append((index, PostOutcome(event.key, default, f"Helix batch job {job.job_id} failed")))
        return out

    def _read_failure_file(self, url: str | None) -> dict[int, str]:
        """``{index: error}`` from a batch job's failure file (JSON list of
        ``{index, error, item}``, possibly wrapped in an object)."""
        if not url:
            raise VerkadaError("no failure_file_url")
        transport = self._transport
        full = transport.url(url)
        if urlsplit(full).netloc == urlsplit(transport.base_url).netloc:
            body = transport.call("GET", full)
        else:
            # A pre-signed link elsewhere: it carries its own authorisation, so send no token.
            check_base_url(full)
            response = transport.send("GET", full, auth=False)
            if response.status_code != 200:
                raise transport.error(response, "failure file download")
            body = parse_json(response, "failure file")
        entries = body
        if isinstance(body, dict):
            entries = next((v for v in body.values() if isinstance(v, list)), [])
        failures: dict[int, str] = {}
        for entry in entries or []:
            if isinstance(entry, dict) and isinstance(entry.get("index"), int):
                failures[entry["index"]] = transport.redact(str(entry.get("error") or "rejected by Helix"))
        return failures
