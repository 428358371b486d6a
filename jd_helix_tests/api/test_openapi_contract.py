"""Schemathesis against the API's own OpenAPI description: generated requests, valid and not,
get documented statuses and bodies, and never a 500. Bounded: a few examples per operation.

(schemathesis' pytest loader `from_fixture` does not run on pytest 9, so the operations'
strategies are driven with hypothesis directly; the checks are schemathesis' own.)
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from jd_helix_tests.api.conftest import AUTH

EXAMPLES_PER_OPERATION = 5


def _operations(app) -> list:
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    return [result.ok() for result in schema.get_all_operations()]


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_every_operation_keeps_its_contract(api_app, mode):
    operations = _operations(api_app)
    assert len(operations) >= 9
    if mode is GenerationMode.NEGATIVE:  # only parameters can be made invalid
        operations = [op for op in operations if len(op.query) or len(op.path_parameters)]
    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        def keeps_contract(case):
            # Schema-valid requests may still be refused with a 400 for what a schema cannot say
            # (start before end, a store that exists, a cursor of this query): all other checks run.
            case.call_and_validate(headers=AUTH, excluded_checks=[positive_data_acceptance])

        keeps_contract()
