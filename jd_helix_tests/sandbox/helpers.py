from __future__ import annotations

from typing import Any

import requests

from jd_helix.sandbox import Sandbox

HOUR = ("2024-03-02T14:00:00Z", "2024-03-02T15:00:00Z")  # a Saturday afternoon


def jd(sb: Sandbox) -> requests.Session:
    s = requests.Session()
    s.headers["X-API-Key"] = sb.jd_api_key
    return s


def all_pages(sess: requests.Session, url: str, **params: Any) -> tuple[list, int]:
    out, pages, cursor = [], 0, None
    while True:
        p = dict(params)
        if cursor:
            p["cursor"] = cursor
        r = sess.get(url, params=p)
        assert r.status_code == 200, r.text
        body = r.json()
        out += body["data"]
        pages += 1
        cursor = body.get("next_cursor")
        if not cursor:
            return out, pages


def verkada(sb: Sandbox) -> requests.Session:
    s = requests.Session()
    r = s.post(sb.verkada_base_url + "/token", headers={"x-api-key": sb.verkada_api_key})
    assert r.status_code == 200, r.text
    s.headers["x-verkada-auth"] = r.json()["token"]
    return s


SCHEMA = {
    "transaction_id": "string",
    "transaction_amount": "float",
    "item_id": "string",
    "store_id": "string",
    "qty": "integer",
    "refund": "boolean",
}


def make_type(sb: Sandbox, s: requests.Session, name: str = "JD Sports Sale") -> str:
    r = s.post(
        sb.verkada_base_url + "/cameras/v1/video_tagging/event_type", json={"name": name, "event_schema": SCHEMA}
    )
    assert r.status_code == 200, r.text
    return r.json()["event_type_uid"]


def now_ms(sb: Sandbox) -> int:
    return int(sb.now().timestamp() * 1000)
