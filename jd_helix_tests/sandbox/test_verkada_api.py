"""The Verkada side over real HTTP: token, cameras, footage, event types, events, search, batch."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
import requests

from jd_helix_tests.sandbox.helpers import SCHEMA, make_type, now_ms, verkada

VT = "/cameras/v1/video_tagging"


def test_token_exchange_and_auth_errors(sandbox):
    base = sandbox.verkada_base_url
    r = requests.post(base + "/token", headers={"x-api-key": "nope"})
    assert r.status_code == 401 and set(r.json()) == {"id", "message", "data"}
    assert requests.post(base + "/token").status_code == 401
    tok = requests.post(base + "/token", headers={"x-api-key": sandbox.verkada_api_key}).json()["token"]
    assert tok.startswith("v2_")
    assert requests.get(base + "/cameras/v1/devices").status_code == 401
    assert requests.get(base + "/cameras/v1/devices", headers={"x-verkada-auth": "v2_forged"}).status_code == 401
    assert requests.get(base + "/cameras/v1/devices", headers={"x-verkada-auth": tok}).status_code == 200


def test_token_expires(sandbox):
    s = verkada(sandbox)
    url = sandbox.verkada_base_url + "/cameras/v1/devices"
    assert s.get(url).status_code == 200
    sandbox.set_now(sandbox.now() + timedelta(seconds=sandbox.config.token_ttl_s - 1))
    assert s.get(url).status_code == 200
    sandbox.set_now(sandbox.now() + timedelta(seconds=2))
    r = s.get(url)
    assert r.status_code == 401 and r.json() == {"id": "0e2d", "message": "Token expired", "data": None}
    assert verkada(sandbox).get(url).status_code == 200  # a new token works


def test_token_expires_in_real_time(make_sandbox):
    sb = make_sandbox(token_ttl_s=0.3)
    s = verkada(sb)
    url = sb.verkada_base_url + "/cameras/v1/devices"
    assert s.get(url).status_code == 200
    time.sleep(0.35)
    assert s.get(url).json()["message"] == "Token expired"


def test_camera_list_paging(make_sandbox):
    sb = make_sandbox(stores=40, pos_per_store=6)
    s = verkada(sb)
    url = sb.verkada_base_url + "/cameras/v1/devices"
    first = s.get(url).json()
    assert len(first["cameras"]) == 100 and first["next_page_token"]
    got, tok = [], None
    while True:
        body = s.get(url, params={"page_size": 200, **({"page_token": tok} if tok else {})}).json()
        got += body["cameras"]
        tok = body["next_page_token"]
        if tok is None:
            break
    assert got == sb.verkada_cameras() and len(got) > 240
    assert got[:100] == first["cameras"]
    for bad in [{"page_size": 0}, {"page_size": 201}, {"page_size": "x"}, {"page_token": "zz"}, {"page_token": "-4"}]:
        r = s.get(url, params=bad)
        assert r.status_code == 400 and r.json()["message"]
    fields = {
        "camera_id",
        "name",
        "site",
        "site_id",
        "serial",
        "mac",
        "model",
        "local_ip",
        "location",
        "location_lat",
        "location_lon",
        "location_angle",
        "timezone",
        "status",
        "last_online",
        "date_added",
        "firmware",
        "firmware_update_schedule",
        "device_retention",
        "cloud_retention",
        "people_history_enabled",
        "vehicle_history_enabled",
    }
    assert set(got[0]) == fields


def test_footage_link(sandbox):
    s = verkada(sandbox)
    cid = sandbox.verkada_cameras()[0]["camera_id"]
    url = sandbox.verkada_base_url + "/cameras/v1/footage/link"
    r = s.get(url, params={"camera_id": cid, "timestamp": 1709388000})
    assert r.status_code == 200 and cid in r.json()["url"] and "1709388000000" in r.json()["url"]
    assert s.get(url, params={"camera_id": cid}).status_code == 200
    assert s.get(url, params={"camera_id": cid, "timestamp": "2024-03-02T14:00:00Z"}).status_code == 200
    assert s.get(url, params={"camera_id": "nope"}).status_code == 400
    assert s.get(url, params={"camera_id": cid, "timestamp": "soon"}).status_code == 400


def test_event_type_crud_and_unique_names(sandbox):
    s = verkada(sandbox)
    url = sandbox.verkada_base_url + VT + "/event_type"
    r = s.post(url, json={"name": "JD Sports Sale", "event_schema": SCHEMA})
    assert r.status_code == 200
    t = r.json()
    assert t["name"] == "JD Sports Sale" and t["event_schema"] == SCHEMA and t["org_id"] and t["event_type_uid"]
    dup = s.post(url, json={"name": "JD Sports Sale", "event_schema": {}})
    assert dup.status_code == 400 and "already exists" in dup.json()["message"]
    other = s.post(url, json={"name": "Other"}).json()  # event_schema optional
    assert other["event_schema"] == {}
    assert len(s.get(url).json()["event_types"]) == 2
    assert s.get(url, params={"name": "JD Sports Sale"}).json()["event_types"] == [t]
    assert s.get(url, params={"event_type_uid": other["event_type_uid"]}).json()["event_types"] == [other]
    assert s.get(url, params={"name": "missing"}).json() == {"event_types": []}
    for bad in [{}, {"name": ""}, {"name": "X", "event_schema": {"a": "decimal"}}, {"name": "X", "event_schema": []}]:
        assert s.post(url, json=bad).status_code == 400, bad
    # patch: the name, and a schema that replaces the old one
    uid = t["event_type_uid"]
    assert s.patch(url, params={"event_type_uid": uid}, json={"name": "JD Sale"}).json() == {}
    assert s.patch(url, params={"event_type_uid": uid}, json={"name": "Other"}).status_code == 400
    assert s.patch(url, params={"event_type_uid": uid}, json={"event_schema": {"amount": "float"}}).status_code == 200
    got = s.get(url, params={"event_type_uid": uid}).json()["event_types"][0]
    assert got["name"] == "JD Sale" and got["event_schema"] == {"amount": "float"}
    assert s.patch(url, params={"event_type_uid": "nope"}, json={}).status_code == 404
    assert s.patch(url, json={}).status_code == 400
    # delete takes the type's events with it
    cam = sandbox.verkada_cameras()[0]["camera_id"]
    ev = {"camera_id": cam, "event_type_uid": uid, "time_ms": now_ms(sandbox), "attributes": {"amount": 1.5}}
    assert s.post(sandbox.verkada_base_url + VT + "/event", json=ev).status_code == 200
    assert len(sandbox.helix_events()) == 1
    assert s.delete(url, params={"event_type_uid": uid}).json() == {}
    assert sandbox.helix_events() == []
    assert s.post(sandbox.verkada_base_url + VT + "/event", json=ev).status_code == 400
    assert sandbox.event_types() == [other]


def test_event_create_get_replace_patch_delete(sandbox):
    s = verkada(sandbox)
    uid = make_type(sandbox, s)
    cam = sandbox.verkada_cameras()[0]["camera_id"]
    t = now_ms(sandbox) - 60_000
    url = sandbox.verkada_base_url + VT + "/event"
    key = {"camera_id": cam, "event_type_uid": uid, "time_ms": t}
    r = s.post(url, json={**key, "attributes": {"transaction_id": "T1", "transaction_amount": 10.5}})
    assert r.status_code == 200 and r.json() == {}
    got = s.get(url, params=key).json()
    assert got == {
        **key,
        "attributes": {"transaction_id": "T1", "transaction_amount": 10.5},
        "flagged": False,
        "org_id": sandbox.world.org_id,
    }
    # the same triple again silently replaces the event, and the write log shows it
    assert s.post(url, json={**key, "attributes": {"transaction_id": "T2", "transaction_amount": 3}}).status_code == 200
    assert len(sandbox.helix_events()) == 1
    writes = sandbox.helix_writes()
    assert [w["via"] for w in writes] == ["single", "single"]
    assert writes[1]["replaced_attributes"] == {"transaction_id": "T1", "transaction_amount": 10.5}
    assert writes[1]["attributes"]["transaction_id"] == "T2" and writes[0]["replaced_attributes"] is None
    # patch merges attributes
    assert s.patch(url, params=key, json={"attributes": {"item_id": "I9"}, "flagged": True}).json() == {}
    ev = sandbox.helix_events()[0]
    assert ev["attributes"] == {"transaction_id": "T2", "transaction_amount": 3, "item_id": "I9"} and ev["flagged"]
    assert sandbox.helix_writes()[-1]["via"] == "patch"
    assert s.patch(url, params=key, json={"attributes": {"qty": "2"}}).status_code == 400
    assert s.delete(url, params=key).json() == {}
    assert s.get(url, params=key).status_code == 404
    assert s.delete(url, params=key).status_code == 404
    assert s.get(url, params={"camera_id": cam}).status_code == 400
    assert s.get(url, params={**key, "time_ms": "soon"}).status_code == 400


@pytest.mark.parametrize(
    "change, message",
    [
        ({"camera_id": "00000000-0000-4000-8000-000000000000"}, "camera_id"),
        ({"event_type_uid": "nope"}, "event_type_uid"),
        ({"time_ms": "1709388000000"}, "time_ms"),
        ({"time_ms": 1709388000000.0}, "time_ms"),
        ({"time_ms": True}, "time_ms"),
        ({"time_ms": "OLD"}, "older than 30 days"),
        ({"time_ms": "FUTURE"}, "in the future"),
        ({"attributes": {"colour": "red"}}, "not in the event type's schema"),
        ({"attributes": {"transaction_amount": "10.50"}}, "Wrong type for field transaction_amount"),
        ({"attributes": {"transaction_amount": True}}, "Wrong type for field transaction_amount"),
        ({"attributes": {"qty": 2.5}}, "Wrong type for field qty"),
        ({"attributes": {"qty": "2"}}, "Wrong type for field qty"),
        ({"attributes": {"refund": 1}}, "Wrong type for field refund"),
        ({"attributes": {"store_id": 101}}, "Wrong type for field store_id"),
        ({"attributes": {"store_id": None}}, "Wrong type for field store_id"),
        ({"attributes": ["a"]}, "attributes"),
        ({"flagged": "yes"}, "flagged"),
        ({"camera_id": None}, "camera_id"),
    ],
)
def test_event_validation(sandbox, change, message):
    s = verkada(sandbox)
    uid = make_type(sandbox, s)
    now = now_ms(sandbox)
    ev = {
        "camera_id": sandbox.verkada_cameras()[0]["camera_id"],
        "event_type_uid": uid,
        "time_ms": now,
        "attributes": {"transaction_amount": 1},
    }
    ev.update(change)
    if ev["time_ms"] == "OLD":
        ev["time_ms"] = now - 30 * 86_400_000 - 1
    if ev["time_ms"] == "FUTURE":
        ev["time_ms"] = now + 300_001
    r = s.post(sandbox.verkada_base_url + VT + "/event", json=ev)
    assert r.status_code == 400
    body = r.json()
    assert set(body) == {"id", "message", "data"} and message in body["message"]
    assert sandbox.helix_events() == [] and sandbox.helix_writes() == []


def test_validation_edges_accepted(sandbox):
    s = verkada(sandbox)
    uid = make_type(sandbox, s)
    now = now_ms(sandbox)
    cam = sandbox.verkada_cameras()[0]["camera_id"]
    url = sandbox.verkada_base_url + VT + "/event"
    ok = [
        {"time_ms": now - 30 * 86_400_000, "attributes": {"transaction_amount": 10}},  # float takes int
        {"time_ms": now + 300_000, "attributes": {"qty": 3, "refund": False}},
        {"time_ms": now - 1, "attributes": {"transaction_id": "x" * 250}},
        {"time_ms": now - 2},
        {"time_ms": now - 3, "attributes": {}, "flagged": True, "org_id": "ignored"},
    ]
    for extra in ok:
        r = s.post(url, json={"camera_id": cam, "event_type_uid": uid, **extra})
        assert r.status_code == 200, (extra, r.text)
    long = next(e for e in sandbox.helix_events() if e["time_ms"] == now - 1)
    assert long["attributes"]["transaction_id"] == "x" * 200  # cut at 200 characters
    assert s.post(url, data=b"not json").status_code == 400


def test_search_filters_and_paging(sandbox):
    s = verkada(sandbox)
    uid = make_type(sandbox, s)
    other = make_type(sandbox, s, "Other")
    cams = [c["camera_id"] for c in sandbox.verkada_cameras()[:3]]
    base = now_ms(sandbox) - 3_600_000
    url = sandbox.verkada_base_url + VT + "/event"
    for i in range(25):
        attrs = {
            "transaction_id": f"T{i}",
            "transaction_amount": float(i),
            "item_id": "Blue Gazelle" if i % 5 == 0 else "Cap",
        }
        assert (
            s.post(
                url,
                json={
                    "camera_id": cams[i % 3],
                    "event_type_uid": uid,
                    "time_ms": base + i * 1000,
                    "attributes": attrs,
                    "flagged": i == 7,
                },
            ).status_code
            == 200
        )
    s.post(url, json={"camera_id": cams[0], "event_type_uid": other, "time_ms": base})
    search = lambda body=None, **params: s.post(url + "/search", params=params, json=body or {})  # noqa: E731

    assert len(search().json()["events"]) == 26
    got, tok, pages = [], None, 0
    while True:
        r = search({"event_type_uid": uid}, page_size=4, **({"page_token": tok} if tok is not None else {})).json()
        assert r["next_token"] == (int(r["next_page_token"]) if r["next_page_token"] else None)
        got += r["events"]
        pages += 1
        tok = r["next_page_token"]
        if tok is None:
            break
    assert pages == 7 and [e["attributes"]["transaction_id"] for e in got] == [f"T{i}" for i in range(25)]
    assert all(e["org_id"] and "flagged" in e for e in got)
    assert len(search({"camera_ids": [cams[1]], "event_type_uid": uid}).json()["events"]) == 8
    r = search({"event_type_uid": uid, "start_time_ms": base + 5000, "end_time_ms": base + 10_000}).json()
    assert [e["attributes"]["transaction_id"] for e in r["events"]] == ["T5", "T6", "T7", "T8", "T9"]

    def flt(op, v):
        return search(
            {"attribute_filters": [{"attribute_key": "transaction_amount", "attribute_value": v, "op": op}]}
        ).json()["events"]

    assert len(flt("gt", 20)) == 4 and len(flt("lt", 2)) == 2 and len(flt("eq", 7)) == 1
    assert len(search({"keywords": ["gazelle"]}).json()["events"]) == 5
    assert [e["attributes"]["transaction_id"] for e in search({"flagged": True}).json()["events"]] == ["T7"]
    for bad in [{"page_size": 0}, {"page_size": 201}, {"page_token": "abc"}, {"page_token": "999"}]:
        assert search(**bad).status_code == 400
    assert search({"attribute_filters": [{"attribute_key": "a", "op": "like"}]}).status_code == 400
    assert search({"camera_ids": "abc"}).status_code == 400
    assert s.get(url + "/search").status_code == 405
