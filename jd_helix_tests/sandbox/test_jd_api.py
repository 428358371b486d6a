"""The JD side of the sandbox over real HTTP: auth, paging, cursors, start/end, errors."""

from __future__ import annotations

import contextlib
import itertools
import time
from collections import Counter
from datetime import UTC, datetime

import pytest
import requests

from jd_helix.sandbox import rules
from jd_helix_tests.sandbox.helpers import HOUR, all_pages, jd

ENDPOINTS = ["sales", "stores", "points-of-sale", "cameras", "inventory"]


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("key", [None, "wrong-key"])
def test_auth_required(sandbox, endpoint, key):
    headers = {"X-API-Key": key} if key else {}
    r = requests.get(f"{sandbox.jd_base_url}/v1/{endpoint}", params={"start": HOUR[0], "end": HOUR[1]}, headers=headers)
    assert r.status_code == 401
    assert "error" in r.json()
    assert sandbox.stats()[("jd", endpoint, 401)] == 1


def test_unknown_path_is_404(sandbox):
    assert jd(sandbox).get(sandbox.jd_base_url + "/v1/nope").status_code == 404


@pytest.mark.parametrize("endpoint", ["stores", "points-of-sale", "cameras", "inventory"])
def test_dimension_pages_cover_raw_and_truth(sandbox, endpoint):
    s = jd(sandbox)
    recs, pages = all_pages(s, f"{sandbox.jd_base_url}/v1/{endpoint}", limit=7)
    assert recs == sandbox.world.raw[endpoint]
    assert pages == -(-len(recs) // 7)
    one = s.get(f"{sandbox.jd_base_url}/v1/{endpoint}").json()
    assert one["data"] == recs and one["next_cursor"] is None  # default limit 500
    truth = sandbox.dimension_truth(endpoint)
    idf = rules.ID_FIELD[endpoint]
    ids = set()
    for r in recs:
        with contextlib.suppress(rules.FieldError):
            ids.add(rules.validate(endpoint, r, UTC)[idf])
    assert set(truth.valid) == ids
    assert len(truth.rejected) >= 1
    assert len(recs) > len(truth.valid) + len(truth.rejected) - 1  # duplicates exist too


def test_sales_paging_is_stable_across_limits(sandbox):
    s = jd(sandbox)
    url = sandbox.jd_base_url + "/v1/sales"
    big, pages = all_pages(s, url, start=HOUR[0], end=HOUR[1], limit=1000)
    assert pages == 1 and len(big) > 50
    small, pages = all_pages(s, url, start=HOUR[0], end=HOUR[1], limit=7)
    assert small == big
    assert pages == -(-len(big) // 7)
    default = s.get(url, params={"start": HOUR[0], "end": HOUR[1]}).json()
    assert default["data"] == big[:500]


@pytest.mark.parametrize("limit", ["0", "1001", "-1", "ten", "1.5"])
def test_bad_limit_is_400(sandbox, limit):
    r = jd(sandbox).get(sandbox.jd_base_url + "/v1/sales", params={"start": HOUR[0], "end": HOUR[1], "limit": limit})
    assert r.status_code == 400 and "limit" in r.json()["error"]
    r = jd(sandbox).get(sandbox.jd_base_url + "/v1/stores", params={"limit": limit})
    assert r.status_code == 400


def test_cursor_validation(sandbox):
    s = jd(sandbox)
    url = sandbox.jd_base_url + "/v1/sales"
    first = s.get(url, params={"start": HOUR[0], "end": HOUR[1], "limit": 5}).json()
    cur = first["next_cursor"]
    for bad in ["garbage!!", "e30", cur[:-3], "WyJzIiwxLDIsM10"]:
        r = s.get(url, params={"start": HOUR[0], "end": HOUR[1], "cursor": bad})
        assert r.status_code == 400, bad
    r = s.get(url, params={"start": HOUR[0], "end": "2024-03-02T16:00:00Z", "cursor": cur})
    assert r.status_code == 400 and "filters" in r.json()["error"]
    # a sales cursor is no good on another endpoint, nor one endpoint's cursor on another
    assert s.get(sandbox.jd_base_url + "/v1/stores", params={"cursor": cur}).status_code == 400
    scur = s.get(sandbox.jd_base_url + "/v1/stores", params={"limit": 1}).json()["next_cursor"]
    assert s.get(sandbox.jd_base_url + "/v1/cameras", params={"cursor": scur}).status_code == 400
    # the cursor works with the same filters, whatever the limit
    r = s.get(url, params={"start": HOUR[0], "end": HOUR[1], "cursor": cur, "limit": 3})
    assert r.status_code == 200 and len(r.json()["data"]) == 3


@pytest.mark.parametrize(
    "params",
    [
        {"start": HOUR[0]},
        {"end": HOUR[1]},
        {"start": "yesterday", "end": HOUR[1]},
        {"start": HOUR[0], "end": "2024-13-01T00:00:00Z"},
    ],
)
def test_bad_start_end_is_400(sandbox, params):
    r = jd(sandbox).get(sandbox.jd_base_url + "/v1/sales", params=params)
    assert r.status_code == 400 and r.json()["error"]


def test_start_end_filter_is_exact(make_sandbox):
    sb = make_sandbox(sales_per_hour=400, duplicate_rate=0.05)
    s = jd(sb)
    url = sb.jd_base_url + "/v1/sales"
    full, _ = all_pages(s, url, start=HOUR[0], end=HOUR[1], limit=1000)
    cuts = [
        "2024-03-02T14:00:00Z",
        "2024-03-02T14:17:23.400Z",
        "2024-03-02T15:31:07+01:00",
        "2024-03-02T14:59:59Z",
        "2024-03-02T15:00:00Z",
    ]
    parts = []
    for a, b in itertools.pairwise(cuts):
        recs, _ = all_pages(s, url, start=a, end=b, limit=13)
        lo, hi = datetime.fromisoformat(a), datetime.fromisoformat(b)
        for r in recs:
            try:
                inst = rules.norm_date(r["transaction_date"], UTC)
            except (rules.Invalid, KeyError):
                continue
            assert lo <= inst < hi, (a, b, r)
        parts += recs
    key = lambda r: repr(sorted(r.items(), key=lambda kv: kv[0]))  # noqa: E731
    assert Counter(map(key, parts)) == Counter(map(key, full))
    # an empty or inverted window is an empty last page
    r = s.get(url, params={"start": HOUR[1], "end": HOUR[0]}).json()
    assert r == {"data": [], "next_cursor": None}


def test_windows_spanning_hours(sandbox):
    s = jd(sandbox)
    url = sandbox.jd_base_url + "/v1/sales"
    a, _ = all_pages(s, url, start="2024-03-02T13:00:00Z", end="2024-03-02T14:00:00Z")
    b, _ = all_pages(s, url, start="2024-03-02T14:00:00Z", end="2024-03-02T15:00:00Z")
    both, _ = all_pages(s, url, start="2024-03-02T13:00:00Z", end="2024-03-02T15:00:00Z", limit=17)
    assert both == a + b


def test_determinism_same_seed_same_data(make_sandbox):
    a, b, c = make_sandbox(seed=3), make_sandbox(seed=3), make_sandbox(seed=4)
    get = lambda sb, ep, **p: all_pages(jd(sb), f"{sb.jd_base_url}/v1/{ep}", **p)[0]  # noqa: E731
    for ep in ["stores", "points-of-sale", "cameras", "inventory"]:
        assert get(a, ep) == get(b, ep)
    assert get(a, "sales", start=HOUR[0], end=HOUR[1]) == get(b, "sales", start=HOUR[0], end=HOUR[1])
    assert get(a, "sales", start=HOUR[0], end=HOUR[1]) != get(c, "sales", start=HOUR[0], end=HOUR[1])
    assert a.verkada_cameras() == b.verkada_cameras() != c.verkada_cameras()


def test_daily_and_weekly_curve(sandbox):
    g = sandbox.sales
    base = int(datetime(2024, 3, 4, tzinfo=UTC).timestamp()) // 3600  # a Monday
    week = [g.count(base + k) for k in range(168)]
    night = sum(week[d * 24 + 3] for d in range(7))
    afternoon = sum(week[d * 24 + 14] for d in range(7))
    assert afternoon > 10 * max(night, 1)
    saturday = sum(week[5 * 24 : 6 * 24])
    tuesday = sum(week[1 * 24 : 2 * 24])
    assert saturday > 1.3 * tuesday
    assert abs(sum(week) / 168 - 60) < 12  # the configured mean


def test_fixed_sales_per_hour_and_large_hours_are_lazy(make_sandbox):
    sb = make_sandbox(fixed_sales_per_hour=1_000_000)
    s = jd(sb)
    url = sb.jd_base_url + "/v1/sales"
    assert sb.sales.count(0) == 1_000_000
    t0 = time.perf_counter()
    r = s.get(url, params={"start": HOUR[0], "end": HOUR[1], "limit": 1000})
    ms = (time.perf_counter() - t0) * 1000
    print(f"\n1,000-record page of a 1,000,000-sale hour: {ms:.1f} ms")
    assert r.status_code == 200 and len(r.json()["data"]) == 1000
    # the last second of the hour, found by bisection without walking the hour
    tail = s.get(url, params={"start": "2024-03-02T14:59:59Z", "end": HOUR[1], "limit": 1000}).json()
    assert 100 < len(tail["data"]) < 1000 and tail["next_cursor"] is None
    last = datetime(2024, 3, 2, 14, 59, 59, tzinfo=UTC)
    for d in tail["data"]:
        with contextlib.suppress(rules.Invalid, KeyError):
            assert rules.norm_date(d["transaction_date"], UTC) == last


def test_dst_hours_never_emit_ambiguous_local_times(make_sandbox):
    # 2023-10-29: London falls back from 02:00 BST to 01:00 GMT; 01:xx local happens twice
    sb = make_sandbox(timezone="Europe/London", sales_per_hour=2000, date_iso_offset_rate=0, date_iso_z_rate=0)
    s = jd(sb)
    start, end = "2023-10-28T23:00:00Z", "2023-10-29T03:00:00Z"
    recs, _ = all_pages(s, sb.jd_base_url + "/v1/sales", start=start, end=end, limit=1000)
    assert recs
    lo, hi = datetime.fromisoformat(start), datetime.fromisoformat(end)
    tz = rules.zone("Europe/London")
    offset_forms = 0
    for r in recs:
        d = r.get("transaction_date")
        if not isinstance(d, str):
            continue
        try:
            inst = rules.norm_date(d, tz)
        except rules.Invalid:
            continue
        assert lo <= inst < hi
        if "T" in d:
            offset_forms += 1
        else:
            assert not d.startswith("2023-10-29 01:"), d  # ambiguous local time
    assert offset_forms > 0
    truth = sb.truth(lo, hi)
    assert all(lo <= t.instant < hi for t in truth.valid.values())


def test_local_dates_are_in_the_configured_zone(make_sandbox):
    sb = make_sandbox(timezone="America/New_York", clean=True)
    recs, _ = all_pages(jd(sb), sb.jd_base_url + "/v1/sales", start=HOUR[0], end=HOUR[1])
    assert recs and all(r["transaction_date"].startswith("2024-03-02 09:") for r in recs)  # 14:00Z = 09:00 EST
