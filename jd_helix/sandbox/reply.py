"""A handler's answer, before the server writes it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Reply:
    status: int
    body: Any = None  # JSON-able object, or bytes sent as they are
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"
    wrote: bool = False  # the request changed state (for the drop_after_apply fault)
    sales_hour: int | None = None  # epoch hour a JD sales page starts in (for the non_json page/hour faults)


VERKADA_ERROR_IDS = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    429: "too_many_requests",
}


def verkada_error(status: int, message: str, err_id: str | None = None, **headers: str) -> Reply:
    return Reply(
        status,
        {"id": err_id or VERKADA_ERROR_IDS.get(status, str(status)), "message": message, "data": None},
        headers=dict(headers),
    )


def jd_error(status: int, message: str) -> Reply:
    return Reply(status, {"error": message})
