"""The fallback where Helix has no batch endpoint: one ``POST .../event`` per event."""

from __future__ import annotations

from collections.abc import Iterable
from itertools import islice
from typing import Any

from jd_helix.clients.verkada.endpoints import EVENT_PATH
from jd_helix.clients.verkada.errors import API_KEY_ENV, VerkadaAuthError, VerkadaError, server_message
from jd_helix.clients.verkada.events import HelixEvent, PostOutcome, ReadyEvent, ReportOutcomes
from jd_helix.clients.verkada.transport import VerkadaTransport
from jd_helix.domain.helix_status import HelixStatus


def post_singly(transport: VerkadaTransport, ready: Iterable[ReadyEvent], report: ReportOutcomes, chunk: int) -> None:
    """Post each event on its own, reporting outcomes every ``chunk`` events."""
    pending = iter(ready)
    while group := list(islice(pending, max(1, chunk))):
        report([(index, post_one(transport, event, body)) for index, event, body in group])


def post_one(transport: VerkadaTransport, event: HelixEvent, body: dict[str, Any]) -> PostOutcome:
    """One ``POST .../event``: 200 posted, 400 skipped, 5xx/timeouts failed."""
    try:
        response = transport.send("POST", EVENT_PATH, json_body=body)
    except VerkadaAuthError:
        raise
    except VerkadaError as exc:
        return PostOutcome(event.key, HelixStatus.FAILED, str(exc))
    if response.status_code in (200, 201, 202, 204):
        return PostOutcome(event.key, HelixStatus.POSTED)
    message, _ = server_message(response)
    message = transport.redact(message)
    if response.status_code in (400, 404, 409, 413, 422):
        return PostOutcome(event.key, HelixStatus.SKIPPED, message)
    if response.status_code == 403:
        raise VerkadaError(
            f"Verkada refused to create an event (403: {message}); the key behind {API_KEY_ENV} needs Helix read/write",
            status=403,
        )
    return PostOutcome(event.key, HelixStatus.FAILED, f"HTTP {response.status_code}: {message}")
