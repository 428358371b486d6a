"""Batch flow, the organisation's rate limit, faults on demand, and the /_sandbox endpoints."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
import requests

from jd_helix.sandbox.ratelimit import RateLimiter
from jd_helix_tests.sandbox.helpers import HOUR, jd, make_type, now_ms, verkada

VT = "/cameras/v1/video_tagging"


def _items(sb, uid, n, bad=()):
    cams = [c["camera_id"] for c in sb.verkada_cameras()]
    t = now_ms(sb) - 600_000
    out = []
    for i in range(n):
        it = {
            "camera_id": cams[i % len(cams)],
            "event_type_uid": uid,
            "time_ms": t + i,
            "attributes": {"transaction_id": f"T{i}", "transaction_amount": i + 0.5},
        }
        if i in bad:
            it["attributes"]["transaction_amount"] = "oops"
        out.append(it)
    return out


def _wait(s, url, timeout=3.0):
    seen = []
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        st = s.get(url).json()
        seen.append(st["status"])
        if st["status"] in ("completed", "failed"):
            return st, seen
        time.sleep(0.01)
    raise AssertionError(f"job never finished: {seen[-3:]}")


def test_batch_flow_with_partial_failures(make_sandbox):
    # Pending for the first half of the delay, processing for the second: half a second each,
    # so that a loaded machine still sees both phases (0.15 s gave it a 75 ms window).
    sb = make_sandbox(batch_delay_s=1.0)
    s = verkada(sb)
    uid = make_type(sb, s)
    url = sb.verkada_base_url + VT + "/event/batch"
    items = _items(sb, uid, 50, bad={3, 17})
    r = s.post(url, json={"items": items})
    assert r.status_code == 202
    jid = r.json()["job_id"]
    assert sb.helix_events() == []  # nothing applied before the job completes
    st, seen = _wait(s, f"{url}/{jid}")
    assert seen[0] == "pending" and "processing" in seen
    assert st["status"] == "completed" and st["total_items"] == 50 and st["failed_items"] == 2
    failures = requests.get(st["failure_file_url"]).json()  # plain GET, no auth
    assert [f["index"] for f in failures] == [3, 17]
    assert failures[0]["item"] == items[3] and "Wrong type for field transaction_amount" in failures[0]["error"]
    assert len(sb.helix_events()) == 48
    assert {w["via"] for w in sb.helix_writes()} == {"batch"}
    # re-posting the same batch replaces the same events: no duplicates, overwrites visible
    jid2 = s.post(url, json={"items": items}).json()["job_id"]
    assert jid2 != jid
    _wait(s, f"{url}/{jid2}")
    assert len(sb.helix_events()) == 48
    assert sum(1 for w in sb.helix_writes() if w["replaced_attributes"] is not None) == 48
    assert sb.stats()[("verkada", "event/batch", 202)] == 2


def test_batch_all_failed_and_clean_job(make_sandbox):
    sb = make_sandbox(batch_delay_s=0)
    s = verkada(sb)
    uid = make_type(sb, s)
    url = sb.verkada_base_url + VT + "/event/batch"
    jid = s.post(url, json={"items": [{"camera_id": "x"}, 7]}).json()["job_id"]
    st = s.get(f"{url}/{jid}").json()
    assert st["status"] == "failed" and st["failed_items"] == 2
    assert len(requests.get(st["failure_file_url"]).json()) == 2
    jid = s.post(url, json={"items": _items(sb, uid, 3)}).json()["job_id"]
    st = s.get(f"{url}/{jid}").json()
    assert st == {"job_id": jid, "status": "completed", "total_items": 3, "failed_items": 0, "failure_file_url": None}


@pytest.mark.parametrize("body", [{"items": []}, {"items": "x"}, {}, {"items": [{}] * 1001}])
def test_batch_size_limits(sandbox, body):
    s = verkada(sandbox)
    r = s.post(sandbox.verkada_base_url + VT + "/event/batch", json=body)
    assert r.status_code == 400 and r.json()["message"]


def test_batch_of_1000_is_accepted(sandbox):
    s = verkada(sandbox)
    uid = make_type(sandbox, s)
    r = s.post(sandbox.verkada_base_url + VT + "/event/batch", json={"items": _items(sandbox, uid, 1000)})
    assert r.status_code == 202
    _wait(s, f"{sandbox.verkada_base_url}{VT}/event/batch/{r.json()['job_id']}")
    assert len(sandbox.helix_events()) == 1000


def test_unknown_batch_job_is_404(sandbox):
    s = verkada(sandbox)
    assert s.get(sandbox.verkada_base_url + VT + "/event/batch/nope").status_code == 404


@pytest.mark.parametrize("mode", ["404", "403"])
def test_batch_mode_off(make_sandbox, mode):
    sb = make_sandbox(batch_mode=mode)
    s = verkada(sb)
    uid = make_type(sb, s)
    r = s.post(sb.verkada_base_url + VT + "/event/batch", json={"items": _items(sb, uid, 2)})
    assert r.status_code == int(mode) and set(r.json()) == {"id", "message", "data"}
    assert s.get(sb.verkada_base_url + VT + "/event/batch/x").status_code == int(mode)
    assert s.post(sb.verkada_base_url + VT + "/event", json=_items(sb, uid, 1)[0]).status_code == 200


# ------------------------------------------------------------------ rate limit
def test_rate_limiter_sliding_windows_and_cooldown():
    now = [0.0]
    rl = RateLimiter(per_5s=3, per_minute=5, cooldown_s=5, clock=lambda: now[0])
    assert [rl.check()[0] for _ in range(3)] == [True] * 3
    ok, ra1 = rl.check()
    assert not ok
    now[0] = 4.9  # still cooling down
    ok, ra2 = rl.check()
    assert not ok and {ra1, ra2} == {True, False}  # Retry-After on some 429s, not on others
    now[0] = 5.1  # cooldown over, the first three left the 5 s window; refusals never counted
    assert rl.check()[0] and rl.check()[0]
    now[0] = 11.0
    assert not rl.check()[0]  # 5 accepted in the last 60 s: the minute limit trips
    now[0] = 61.0  # the first three have left the minute window
    assert rl.check()[0]
    assert RateLimiter(None, None).check() == (True, False)


def test_rate_limit_over_http(make_sandbox):
    sb = make_sandbox(rate_limit_per_5s=5, rate_limit_per_minute=300, rate_limit_cooldown_s=0.4)
    s = verkada(sb)  # the token call counts too
    url = sb.verkada_base_url + "/cameras/v1/devices"
    codes = [s.get(url).status_code for _ in range(4)]
    assert codes == [200] * 4
    limited = [s.get(url) for _ in range(4)]
    assert all(r.status_code == 429 for r in limited)
    assert all(set(r.json()) == {"id", "message", "data"} for r in limited)
    ras = [r.headers.get("Retry-After") for r in limited]
    assert "5" in ras and None in ras
    r = requests.post(sb.verkada_base_url + "/token", headers={"x-api-key": sb.verkada_api_key})
    assert r.status_code == 429  # /token is rate limited too
    assert requests.get(sb.base_url + "/_sandbox/stats").status_code == 200  # /_sandbox never is
    assert jd(sb).get(sb.jd_base_url + "/v1/stores").status_code == 200  # nor is JD
    time.sleep(0.45)
    assert s.get(url).status_code == 429  # 5 accepted within the last 5 s
    assert sb.stats()[("verkada", "devices", 429)] == 5


# ---------------------------------------------------------------------- faults
def test_fault_error_rate(sandbox):
    sandbox.faults.update(api="jd", error_rate=1.0)
    s = jd(sandbox)
    codes = {s.get(sandbox.jd_base_url + "/v1/stores").status_code for _ in range(30)}
    assert codes <= {500, 502, 503, 504} and len(codes) > 1
    assert verkada(sandbox).get(sandbox.verkada_base_url + "/cameras/v1/devices").status_code == 200
    sandbox.faults.update(api="jd", error_rate=0.5)
    codes = [s.get(sandbox.jd_base_url + "/v1/stores").status_code for _ in range(40)]
    assert 5 < codes.count(200) < 35
    sandbox.faults.reset()
    assert s.get(sandbox.jd_base_url + "/v1/stores").status_code == 200
    assert sum(c for (a, e, st), c in sandbox.stats().items() if a == "jd" and st >= 500) > 30


def test_fault_error_on_verkada_write_changes_nothing(sandbox):
    s = verkada(sandbox)
    uid = make_type(sandbox, s)
    sandbox.faults.update(api="verkada", error_rate=1.0)
    r = s.post(sandbox.verkada_base_url + VT + "/event", json=_items(sandbox, uid, 1)[0])
    assert r.status_code in (500, 502, 503, 504)
    assert sandbox.helix_events() == [] and sandbox.helix_writes() == []


def test_fault_burst_429(sandbox):
    sandbox.faults.update(burst_429=3)  # both APIs
    s = jd(sandbox)
    rs = [s.get(sandbox.jd_base_url + "/v1/stores") for _ in range(4)]
    assert [r.status_code for r in rs] == [429, 429, 429, 200]
    assert {r.headers.get("Retry-After") for r in rs[:3]} == {"1", None}
    v = requests.post(sandbox.verkada_base_url + "/token", headers={"x-api-key": sandbox.verkada_api_key})
    assert v.status_code == 429 and v.json()["message"]


def test_fault_latency(sandbox):
    s = jd(sandbox)
    s.get(sandbox.jd_base_url + "/v1/stores")
    sandbox.faults.update(api="jd", latency_ms=150)
    t0 = time.perf_counter()
    assert s.get(sandbox.jd_base_url + "/v1/stores").status_code == 200
    assert time.perf_counter() - t0 >= 0.15


def test_fault_drop_connection(sandbox):
    s = verkada(sandbox)
    uid = make_type(sandbox, s)
    sandbox.faults.update(drop_rate=1.0)
    with pytest.raises(requests.ConnectionError):
        jd(sandbox).get(sandbox.jd_base_url + "/v1/stores")
    with pytest.raises(requests.ConnectionError):
        s.post(sandbox.verkada_base_url + VT + "/event", json=_items(sandbox, uid, 1)[0])
    assert sandbox.helix_events() == []  # dropped before the write
    assert sandbox.stats()[("jd", "stores", 0)] == 1
    sandbox.faults.reset()
    assert jd(sandbox).get(sandbox.jd_base_url + "/v1/stores").status_code == 200


def test_fault_drop_after_apply(sandbox):
    s = verkada(sandbox)
    uid = make_type(sandbox, s)
    item = _items(sandbox, uid, 1)[0]
    sandbox.faults.update(api="verkada", drop_after_apply=1.0)
    with pytest.raises(requests.ConnectionError):
        s.post(sandbox.verkada_base_url + VT + "/event", json=item)
    assert len(sandbox.helix_events()) == 1  # applied, then the answer was lost
    assert s.get(sandbox.verkada_base_url + "/cameras/v1/devices").status_code == 200  # reads unaffected
    sandbox.faults.reset()
    assert s.post(sandbox.verkada_base_url + VT + "/event", json=item).status_code == 200  # the retry replaces
    assert len(sandbox.helix_events()) == 1 and len(sandbox.helix_writes()) == 2


def test_fault_non_json_pages(sandbox):
    s = jd(sandbox)
    url = sandbox.jd_base_url + "/v1/sales"
    p = {"start": HOUR[0], "end": HOUR[1], "limit": 5}
    sandbox.faults.update(api="jd", non_json=2)
    for _ in range(2):
        r = s.get(url, params=p)
        assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/html")
        with pytest.raises(ValueError):
            r.json()
    assert s.get(url, params=p).json()["data"]
    sandbox.faults.update(api="jd", non_json_page=3, non_json_status=502)
    codes = [s.get(url, params=p).status_code for _ in range(4)]
    assert codes == [200, 200, 502, 200]
    sandbox.faults.reset()
    sandbox.faults.update(api="jd", non_json_hour="2024-03-02T14")
    assert s.get(url, params=p).headers["Content-Type"].startswith("text/html")
    assert s.get(url, params={**p, "start": "2024-03-02T13:00:00Z", "end": HOUR[0]}).json()
    sandbox.faults.reset()
    sandbox.faults.update(api="jd", non_json_endpoint="cameras")
    assert s.get(sandbox.jd_base_url + "/v1/cameras").headers["Content-Type"].startswith("text/html")
    assert s.get(sandbox.jd_base_url + "/v1/stores").json()["data"]


def test_fault_short_token_ttl_at_runtime(sandbox):
    s = verkada(sandbox)
    url = sandbox.verkada_base_url + "/cameras/v1/devices"
    assert s.get(url).status_code == 200
    sandbox.faults.update(token_ttl_s=60)  # for tokens already issued too
    sandbox.set_now(sandbox.now() + timedelta(seconds=61))
    assert s.get(url).json()["id"] == "0e2d"


def test_faults_at_start_and_over_http(make_sandbox):
    sb = make_sandbox(faults={"api": "jd", "burst_429": 1})
    s = jd(sb)
    assert s.get(sb.jd_base_url + "/v1/stores").status_code == 429
    assert s.get(sb.jd_base_url + "/v1/stores").status_code == 200
    r = requests.post(sb.base_url + "/_sandbox/faults", json={"api": "jd", "error_rate": 1.0})
    assert r.status_code == 200 and r.json()["jd"]["error_rate"] == 1.0
    assert s.get(sb.jd_base_url + "/v1/stores").status_code >= 500
    assert requests.post(sb.base_url + "/_sandbox/faults", json={"bogus": 1}).status_code == 400
    requests.post(sb.base_url + "/_sandbox/faults/reset")
    assert s.get(sb.jd_base_url + "/v1/stores").status_code == 200
    with pytest.raises(TypeError):
        sb.faults.update(nope=1)


# --------------------------------------------------------------- inspection
def test_sandbox_admin_endpoints(sandbox):
    s = verkada(sandbox)
    uid = make_type(sandbox, s)
    s.post(sandbox.verkada_base_url + VT + "/event", json=_items(sandbox, uid, 1)[0])
    get = lambda p, **q: requests.get(f"{sandbox.base_url}/_sandbox/{p}", params=q)  # noqa: E731
    assert get("health").json()["ok"] is True
    assert len(get("events").json()["events"]) == 1
    assert get("writes").json()["writes"][0]["via"] == "single"
    assert {"api": "verkada", "endpoint": "event", "status": 200, "count": 1} in get("stats").json()["stats"]
    t = get("truth", start=HOUR[0], end=HOUR[1]).json()
    assert len(t["valid"]) == len(
        sandbox.truth(*(__import__("datetime").datetime.fromisoformat(h) for h in HOUR)).valid
    )
    assert get("dimension_truth/stores").json()["valid"]
    assert get("dimension_truth/nope").status_code == 400
    assert get("config").json()["seed"] == 7 and "jd_api_key" not in get("config").json()
    r = requests.post(f"{sandbox.base_url}/_sandbox/now", json={"now": "2024-03-10T00:00:00+00:00"})
    assert r.json()["now"].startswith("2024-03-10") and sandbox.now().day == 10
    assert get("nope").status_code == 404
    assert requests.get(sandbox.base_url + "/elsewhere").status_code == 404
    assert requests.get(sandbox.verkada_base_url + "/nope").status_code == 404
