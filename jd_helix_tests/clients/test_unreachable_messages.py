"""A failure to reach an API says what to fix: which API, at which host, that it is
unreachable (or down), and which setting names it; never the key. The step's failure leads
with that message, above Dagster's trace."""

from __future__ import annotations

import dagster as dg
import pytest

from jd_helix.clients.jd.client import JdApiError
from jd_helix.clients.verkada.errors import VerkadaError
from jd_helix.lib.failures import explained_failures
from jd_helix.resources.helix_settings import EVENT_SCHEMA
from jd_helix.resources.jd_api import JdApiResource
from jd_helix.resources.verkada import VerkadaResource
from jd_helix.sandbox import Sandbox, SandboxConfig
from jd_helix_tests.recovery.deployment import free_port

KEY = "a-secret-key-that-must-not-show"


def _verkada(base_url: str) -> VerkadaResource:
    return VerkadaResource(
        base_url=base_url, api_key=KEY, max_retries=0, requests_per_5s=None, requests_per_minute=None
    )


def test_verkada_unreachable_names_the_host_and_the_setting():
    port = free_port()  # nothing listens there
    with _verkada(f"http://127.0.0.1:{port}/verkada").get_client() as client, pytest.raises(VerkadaError) as error:
        client.ensure_event_type("JD Sports Sale", EVENT_SCHEMA)
    message = str(error.value)
    assert message.startswith(f"Verkada is unreachable at http://127.0.0.1:{port} (token request: ")
    assert "Check VERKADA_API_BASE_URL" in message and KEY not in message


def test_jd_unreachable_names_the_host_and_the_setting():
    port = free_port()
    client = JdApiResource(base_url=f"http://127.0.0.1:{port}/jd", api_key=KEY, max_retries=0).get_client()
    with pytest.raises(JdApiError) as error:
        client.fetch_all("/v1/stores")
    client.close()
    message = str(error.value)
    assert message.startswith(f"The JD API is unreachable at http://127.0.0.1:{port} (JD API /v1/stores (page 1): ")
    assert "Check JD_API_BASE_URL" in message and KEY not in message


def test_an_api_answering_5xx_is_down_and_the_step_failure_leads_with_it():
    with Sandbox.running(SandboxConfig(seed=1, stores=1, pos_per_store=1, items=1), port=0) as sandbox:
        sandbox.faults.update(api="verkada", error_rate=1.0)
        resource = _verkada(sandbox.verkada_base_url)

        @explained_failures
        def step():
            with resource.get_client() as client:
                client.ensure_event_type("JD Sports Sale", EVENT_SCHEMA)

        with pytest.raises(dg.Failure) as failure:
            step()
    host = sandbox.verkada_base_url.removesuffix("/verkada")
    assert (failure.value.description or "").startswith(f"Verkada is down at {host} (token request: HTTP 50")
    assert "runs again by itself" in (failure.value.description or "")
