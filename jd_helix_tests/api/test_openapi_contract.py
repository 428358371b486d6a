"""Schemathesis against the API's own OpenAPI description, every check on: generated
requests, valid and not, get documented statuses, content types and bodies, never a 500,
and requests the schema calls valid are accepted. Bounded: a few examples per operation.

JSON Schema states each parameter's own rules (types, ranges, no empty strings); the rules
between parameters or about the data are stated in the descriptions (`start` before `end`,
a `store_id` filter of a known store, a `cursor` from a page), and the valid cases are made
to keep them, as a client reading the description would.

(schemathesis' pytest loader `from_fixture` does not run on pytest 9, so the operations'
strategies are driven with hypothesis directly; the checks are schemathesis' own.)
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.core.result import Ok
from schemathesis.generation.modes import GenerationMode

from jd_helix.api.errors import ApiError
from jd_helix.api.helix_audit_route import MAX_HOURS
from jd_helix.api.params import parse_instant
from jd_helix_tests.api.conftest import AUTH

EXAMPLES_PER_OPERATION = 5
MAX_AUDIT_WINDOW = timedelta(hours=MAX_HOURS)


def _operations(app) -> list:
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result.err()
        operations.append(result.ok())
    return operations


def _instant(value) -> datetime | None:
    try:
        return parse_instant("-", value)
    except ApiError:
        return None


def keeping_the_described_rules(known_store: str):
    def keep(case):
        query = case.query or {}
        query.pop("cursor", None)  # only a page's next_cursor continues a query
        if "store_id" in query:
            query["store_id"] = known_store
        for name in ("start", "end"):  # "within years 1-9999 once in UTC"
            if name in query and _instant(query[name]) is None:
                del query[name]
        if "start" in query and "end" in query:
            start, end = _instant(query["start"]), _instant(query["end"])
            assert start is not None and end is not None  # the loop above dropped those that don't parse
            if start >= end:
                del query["end"]  # "earlier than end"
            elif end - start > MAX_AUDIT_WINDOW:
                del query["end"]  # /v1/helix-audit: "at most 744 hours before it"
        return case

    return keep


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_every_operation_keeps_its_contract(api_app, client, mode):
    operations = _operations(api_app)
    assert len(operations) >= 9
    known_store = client.get("/v1/stores", params={"limit": 1}, headers=AUTH).json()["items"][0]["store_id"]
    if mode is GenerationMode.NEGATIVE:  # only parameters can be made invalid
        operations = [op for op in operations if len(op.query) or len(op.path_parameters)]
    for operation in operations:
        strategy = operation.as_strategy(generation_mode=mode)
        if mode is GenerationMode.POSITIVE:
            strategy = strategy.map(keeping_the_described_rules(known_store))

        @given(case=strategy)
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),  # pyright: ignore[reportArgumentType]  # hypothesis' HealthCheckMeta.__iter__ is unannotated, so pyright sees the metaclass, not HealthCheck
        )
        def keeps_contract(case):
            case.call_and_validate(headers=AUTH)

        keeps_contract()
