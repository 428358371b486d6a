"""GET /v1/helix-audit: each hour's audit against Helix (domain/helix_audit_state.py).

A router of its own, included by app.py beside the others: the hours of a window (default
the last 24), not paged (a week is 168 rows).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

import duckdb
from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from jd_helix.api.auth import require_api_key
from jd_helix.api.errors import ApiError, Problem, bad_parameter
from jd_helix.api.params import format_instant, parse_instant
from jd_helix.api.replica import NoSnapshot, ReplicaKeeper
from jd_helix.domain.helix_audit_state import audit_state

MAX_HOURS = 24 * 31

audit_router = APIRouter(
    prefix="/v1",
    dependencies=[Depends(require_api_key)],
    responses={400: {"model": Problem}, 401: {"model": Problem}, 403: {"model": Problem}, 503: {"model": Problem}},
)


class HourAudit(BaseModel):
    sale_hour: str = Field(description="The UTC hour (its start).")
    state: str = Field(description="`holds ledger`, `still missing` (an error: see still_missing) or `not audited`.")
    audited_at: str | None = Field(description="When the hour was last audited.")
    held: int | None = Field(description="Events of the hour's sales Helix held (adopted ones included).")
    missing: int | None = Field(description="Ledger rows posted whose event Helix did not hold.")
    reposted: int | None = Field(description="Of those, re-posted with their pinned triple and acknowledged.")
    adopted: int | None = Field(description="Events Helix held for sales the ledger did not record as posted.")
    unknown: int | None = Field(description="Events of the type in the hour that no sale of this warehouse owns.")
    still_missing: int | None = Field(description="Missing events Helix still did not hold after the re-posts.")


class HelixAuditPage(BaseModel):
    items: list[HourAudit]
    as_of: str = Field(description="The warehouse's state these rows come from (see /v1/status).")


Instant = {"format": "date-time"}


@audit_router.get("/helix-audit", response_model=HelixAuditPage, summary="Each hour's audit against Helix")
def helix_audit(
    request: Request,
    start: Annotated[
        str | None,
        Query(
            description="From this hour on (default: 24 hours before end); earlier than end, "
            f"at most {MAX_HOURS} hours before it.",
            json_schema_extra=Instant,
        ),
    ] = None,
    end: Annotated[
        str | None,
        Query(
            description=f"Before this instant (default: now, or {MAX_HOURS} hours after start if that is "
            "earlier; a window in the future is empty).",
            json_schema_extra=Instant,
        ),
    ] = None,
) -> dict:
    """Ordered by hour: when each was audited, and what Helix held, lost, took back and adopted."""
    now = datetime.now(UTC).replace(tzinfo=None)
    start_at = parse_instant("start", start) if start is not None else None
    if end is not None:
        end_at = parse_instant("end", end)
    elif start_at is not None:
        end_at = max(min(now, start_at + timedelta(hours=MAX_HOURS)), start_at)
    else:
        end_at = now
    start_at = start_at if start_at is not None else end_at - timedelta(hours=24)
    if end is not None and start_at >= end_at:
        raise bad_parameter("end", "must be later than start")
    if end_at - start_at > timedelta(hours=MAX_HOURS):
        raise bad_parameter("start", f"the window may span at most {MAX_HOURS} hours")
    keeper: ReplicaKeeper = request.app.state.replica
    try:
        with keeper.reader() as (snapshot, conn):
            rows = audit_state(conn, start_at, end_at)
            as_of = format_instant(snapshot.as_of)
    except NoSnapshot as error:
        raise ApiError(503, "No data yet", str(error), headers={"Retry-After": "5"}) from None
    except duckdb.CatalogException as error:
        raise ApiError(
            503, "Warehouse incomplete", f"{str(error).splitlines()[0]} (has the pipeline run yet?)"
        ) from None
    items = [
        {**row, "sale_hour": format_instant(row["sale_hour"]), "audited_at": format_instant(row["audited_at"])}
        for row in rows
    ]
    return {"items": items, "as_of": as_of}
