"""Only a network failure lets a step's RetryPolicy run it again; the ledger step has no retry."""

import dagster as dg
import pytest
import requests

from jd_helix.definitions import defs
from jd_helix.lib.failures import TRANSIENT_RETRY, explained_failures
from jd_helix.resources.jd_api import JdApiError, JdAuthError


def _raise(error: Exception):
    raise error


def _wrapped_from_none(cause: Exception):
    """As the clients raise it: the network error kept only as context."""
    try:
        raise cause
    except requests.RequestException:
        raise JdApiError("JD API /v1/sales (page 1): no answer after retries (ConnectionError)") from None


@pytest.mark.parametrize(
    "raise_error, retries",
    [
        (lambda: _wrapped_from_none(requests.ConnectionError("down")), True),
        (lambda: _raise(requests.Timeout("slow")), True),
        (lambda: _raise(JdAuthError("refused: check JD_API_KEY")), False),
        (lambda: _raise(JdApiError("the answer is not JSON")), False),
    ],
)
def test_only_network_failures_allow_a_step_retry(raise_error, retries):
    failing = explained_failures(lambda: raise_error())
    with pytest.raises(dg.Failure) as failure:
        failing()
    assert failure.value.allow_retries is retries


def test_extract_steps_retry_and_the_ledger_step_does_not():
    graph = defs.resolve_asset_graph()
    policies = {
        key.to_user_string(): defs.resolve_assets_def(key).op.retry_policy for key in graph.materializable_asset_keys
    }
    for key in (
        "jd_stores",
        "jd_points_of_sale",
        "jd_cameras",
        "jd_items",
        "verkada_cameras",
        "helix_event_type",
        "jd_transactions",
    ):
        assert policies[key] == TRANSIENT_RETRY, key
    for key in ("helix_events", "transaction_camera_events", "store_sales"):
        assert policies[key] is None, key
