"""The sandbox's Helix can lose acknowledged creates, and events can be deleted as in Command."""

from __future__ import annotations

import requests
from click.testing import CliRunner

from jd_helix.cli.sandbox import sandbox_command
from jd_helix.sandbox import Sandbox, SandboxConfig
from jd_helix_tests.sandbox.helpers import make_type, now_ms, verkada

VT = "/cameras/v1/video_tagging"
CONFIG = SandboxConfig(seed=5, rate_limit_per_5s=None, rate_limit_per_minute=None, batch_delay_s=0)


def _items(sb: Sandbox, uid: str, n: int) -> list[dict]:
    camera = sb.verkada_cameras()[0]["camera_id"]
    t = now_ms(sb) - 600_000
    return [
        {"camera_id": camera, "event_type_uid": uid, "time_ms": t + i, "attributes": {"transaction_id": f"T{i}"}}
        for i in range(n)
    ]


def test_lost_creates_are_acknowledged_listed_as_lost_and_never_held():
    with Sandbox.running(CONFIG, port=0) as sb:
        s = verkada(sb)
        uid = make_type(sb, s)
        requests.post(
            sb.base_url + "/_sandbox/faults", json={"api": "verkada", "lose_create_rate": 0.3}
        ).raise_for_status()
        items = _items(sb, uid, 200)
        assert s.post(sb.verkada_base_url + VT + "/event/batch", json={"items": items[:150]}).status_code == 202
        for item in items[150:]:
            assert s.post(sb.verkada_base_url + VT + "/event", json=item).status_code == 200
        writes = sb.helix_writes()
        lost = {w["time_ms"] for w in writes if w["lost"]}
        assert len(writes) == 200 and 30 < len(lost) < 90
        held = {e["time_ms"] for e in sb.helix_events()}
        assert held == {item["time_ms"] for item in items} - lost
        searched = s.post(
            sb.verkada_base_url + VT + "/event/search", params={"page_size": 200}, json={"event_type_uid": uid}
        ).json()["events"]
        assert {e["time_ms"] for e in searched} == held


def test_events_deleted_over_the_admin_endpoint_are_gone():
    with Sandbox.running(CONFIG, port=0) as sb:
        s = verkada(sb)
        uid = make_type(sb, s)
        items = _items(sb, uid, 5)
        assert s.post(sb.verkada_base_url + VT + "/event/batch", json={"items": items}).status_code == 202
        answer = requests.post(sb.base_url + "/_sandbox/events/delete", json={"events": items[:2] + items[:1]})
        assert answer.json() == {"deleted": 2}
        assert [e["time_ms"] for e in sb.helix_events()] == [item["time_ms"] for item in items[2:]]
        assert requests.post(sb.base_url + "/_sandbox/events/delete", json={}).status_code == 400


def test_the_cli_sets_the_lost_create_fault(monkeypatch):
    started = {}

    def fake_serve(self):
        started["faults"] = self.faults.snapshot()

    monkeypatch.setattr(Sandbox, "serve_forever", fake_serve)
    monkeypatch.setattr(Sandbox, "start", lambda self: self)
    result = CliRunner().invoke(sandbox_command, ["--port", "0", "--fault-lose-create-rate", "0.05"])
    assert result.exit_code == 0, result.output
    assert started["faults"]["verkada"]["lose_create_rate"] == 0.05
    assert started["faults"]["jd"]["lose_create_rate"] == 0.0
