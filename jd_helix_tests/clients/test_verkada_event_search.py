"""Event search (paged) against the sandbox, and the audit's share of the rate limit."""

from __future__ import annotations

import bisect

from jd_helix.clients.verkada.audit_budget import BudgetedLimiter
from jd_helix.clients.verkada.client import VerkadaClient
from jd_helix.clients.verkada.events import HelixEvent
from jd_helix.clients.verkada.rate_limit import RateLimitSettings, VerkadaRateLimiter, shared_limiter
from jd_helix.clients.verkada.settings import VerkadaClientSettings
from jd_helix.resources.verkada import VerkadaResource
from jd_helix.sandbox import Sandbox, SandboxConfig
from jd_helix_tests.clients.test_verkada_rate_limit import FakeClock

UNLIMITED = RateLimitSettings(requests_per_5s=None, requests_per_minute=None)
SCHEMA = {"transaction_id": "string"}


def test_search_reads_every_page_of_the_type_and_range_only():
    config = SandboxConfig(
        seed=3, clean=True, fixed_sales_per_hour=0, rate_limit_per_5s=None, rate_limit_per_minute=None, batch_delay_s=0
    )
    with Sandbox.running(config, port=0) as sandbox:
        client = VerkadaClient(
            sandbox.verkada_base_url,
            sandbox.verkada_api_key,
            VerkadaClientSettings(),
            limiter=VerkadaRateLimiter(UNLIMITED),
        )
        ours = client.ensure_event_type("ours", SCHEMA).uid
        theirs = client.ensure_event_type("theirs", SCHEMA).uid
        camera = sandbox.verkada_cameras()[0]["camera_id"]
        start = int(sandbox.now().timestamp() * 1000) - 3_600_000
        events = [
            HelixEvent(camera, uid, start + i, {"transaction_id": f"t{i}"}, f"{uid}{i}")
            for uid in (ours, theirs)
            for i in range(450)
        ]
        client.post_events(events)
        before = client.requests_made
        found = list(client.search_events(ours, start + 10, start + 440, page_size=100))
        assert [e["attributes"]["transaction_id"] for e in found] == [f"t{i}" for i in range(10, 440)]
        assert {e["event_type_uid"] for e in found} == {ours}
        assert client.requests_made - before == 5, "430 events, 100 a page"
        assert list(client.search_events(ours, start + 1_000, start + 2_000)) == []


def test_audit_requests_stay_within_their_budget_and_the_org_limit():
    clock = FakeClock()
    org = VerkadaRateLimiter(RateLimitSettings(25, 300), clock=clock.now, sleep=clock.sleep)
    audit = BudgetedLimiter(RateLimitSettings(3, 30), org, org="test audit", clock=clock.now, sleep=clock.sleep)
    stamps = []
    for _ in range(60):
        audit.acquire()
        stamps.append(clock.ms)
    stamps.sort()
    per_minute = max(bisect.bisect_left(stamps, t + 60_000) - i for i, t in enumerate(stamps))
    per_5s = max(bisect.bisect_left(stamps, t + 5_000) - i for i, t in enumerate(stamps))
    assert per_minute <= 30 and per_5s <= 3, "at most 10 % of the org's 300 a minute (25 per 5 s)"
    assert per_minute >= 20, "and not much less: the budget is used"
    assert org.admitted == 60, "every audit request also counts against the org's limit"


def test_the_audit_client_counts_in_the_same_file_as_posting_under_a_budget_of_its_own(tmp_path):
    shared = str(tmp_path / "requests.sqlite")
    resource = VerkadaResource(base_url="http://127.0.0.1:9/audit-budget", api_key="k", rate_limit_file=shared)
    with resource.get_audit_client() as audit, resource.get_client() as posting:
        limiter = audit.transport.limiter
        assert isinstance(limiter, BudgetedLimiter)
        assert limiter.org_limiter is posting.transport.limiter is shared_limiter(posting.base_url)
        assert limiter.settings.shared_file == shared == posting.transport.limiter.settings.shared_file
        assert (limiter.settings.requests_per_5s, limiter.settings.requests_per_minute) == (3, 30)
