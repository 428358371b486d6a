"""Ground truth agrees with what the JD API serves; every oddity appears; clean mode has none."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from jd_helix.sandbox import rules
from jd_helix.sandbox.sales import DUP, MISSING, NULL, REFUND, UNKNOWN_CAM, WRONG, ZERO
from jd_helix_tests.sandbox.helpers import HOUR, all_pages, jd

START, END = (datetime.fromisoformat(h) for h in HOUR)


@pytest.fixture
def busy(make_sandbox):
    # enough sales that every oddity shows up in one hour
    return make_sandbox(fixed_sales_per_hour=20_000)


def _sales(sb, limit=1000):
    recs, pages = all_pages(jd(sb), sb.jd_base_url + "/v1/sales", start=HOUR[0], end=HOUR[1], limit=limit)
    return recs, pages


def test_truth_agrees_with_served_records(busy):
    recs, _ = _sales(busy)
    truth = busy.truth(START, END)
    # replay the records: last occurrence wins, invalid ones set aside
    valid, rejected = {}, []
    for r in recs:
        try:
            n = rules.validate("sales", r, UTC)
        except rules.FieldError as e:
            rejected.append((e.field, r))
            continue
        valid[n["transaction_id"]] = n
    assert set(valid) == set(truth.valid)
    assert len(rejected) == len(truth.rejected)
    assert [r.raw for r in truth.rejected] == [r for _, r in rejected]
    for tid, n in valid.items():
        t = truth.valid[tid]
        assert t.amount == n["transaction_amount"] and t.instant == n["transaction_date"]
        assert t.time_ms == int(t.instant.timestamp()) * 1000
        assert t.item_id == n["item_id"] and t.camera_id == n["camera_id"]
        assert START <= t.instant < END and t.instant.tzinfo is not None
        assert t.amount == t.amount.quantize(Decimal("0.01")) and t.amount != 0


def test_every_oddity_appears_at_about_its_rate(busy):
    cfg = busy.config
    recs, _ = _sales(busy)
    n = len(recs)
    ctx = busy.sales.hour_ctx(int(START.timestamp()) // 3600)
    kinds = Counter(busy.sales.kind_of(ctx, i) for i in range(ctx.n))
    for kind, rate in [
        (DUP, cfg.duplicate_rate),
        (MISSING, cfg.missing_field_rate),
        (NULL, cfg.null_field_rate),
        (WRONG, cfg.wrong_kind_rate),
        (ZERO, cfg.zero_amount_rate),
        (REFUND, cfg.refund_rate),
        (UNKNOWN_CAM, cfg.unknown_camera_rate),
    ]:
        assert 0.5 * rate * n < kinds[kind] < 1.6 * rate * n, (kind, kinds[kind])

    present = lambda pred: sum(1 for r in recs if pred(r))  # noqa: E731
    assert present(lambda r: isinstance(r.get("transaction_id"), str)) > 0.03 * n
    assert present(lambda r: isinstance(r.get("item_id"), str)) > 0.02 * n
    assert present(lambda r: isinstance(r.get("camera_id"), str) and "-" not in r["camera_id"]) > 0.02 * n
    assert present(lambda r: isinstance(r.get("transaction_amount"), str)) > 0.03 * n
    dates = [r["transaction_date"] for r in recs if isinstance(r.get("transaction_date"), str)]
    assert sum(d.endswith("Z") for d in dates) > 0.02 * n
    assert sum("T" in d and d[-6] in "+-" for d in dates) > 0.02 * n
    assert sum(" " in d for d in dates) > 0.8 * n
    assert present(lambda r: set(r) - set(rules.REQUIRED_FIELDS["sales"])) > 0.01 * n

    truth = busy.truth(START, END)
    fields = Counter(r.field for r in truth.rejected)
    assert set(fields) == set(rules.REQUIRED_FIELDS["sales"])
    reasons = Counter(r.reason for r in truth.rejected)
    assert reasons["missing required field"] > 0 and reasons["required field is null"] > 0
    assert reasons["zero amount"] > 0 and reasons["amount has more than 2 decimal places"] > 0
    assert any("bool" in r for r in reasons) and any("unparsable date" in r for r in reasons)
    assert any("dict" in r for r in reasons) and any("list" in r for r in reasons)
    assert all(r.field == "transaction_amount" for r in truth.rejected if r.reason == "zero amount")
    # refunds are valid sales with a negative amount, about refund_rate of them
    refunds = sum(1 for sale in truth.valid.values() if sale.amount < 0)
    assert 0.5 * cfg.refund_rate * n < refunds < 1.6 * cfg.refund_rate * n

    # duplicates: same transaction id twice, sometimes with a different amount; the last one wins
    ids = Counter(
        str(r["transaction_id"])
        for r in recs
        if isinstance(r.get("transaction_id"), (int, str)) and not isinstance(r.get("transaction_id"), bool)
    )
    dups = [t for t, c in ids.items() if c > 1]
    assert len(dups) > 0.5 * cfg.duplicate_rate * n
    changed = 0
    for tid in dups:
        occ = [r for r in recs if str(r.get("transaction_id")) == tid]
        amounts = {rules.norm_amount(o["transaction_amount"]) for o in occ}
        if len(amounts) > 1:
            changed += 1
            assert truth.valid[tid].amount == rules.norm_amount(occ[-1]["transaction_amount"])
    assert changed > 0

    # cameras the camera API does not list; sales sharing a camera and a second
    jd_cams = set(busy.camera_mapping())
    unknown = [t for t in truth.valid.values() if t.camera_id not in jd_cams]
    assert unknown and any(t.verkada_camera_id is None for t in unknown)
    assert any(t.verkada_camera_id == t.camera_id for t in unknown)
    groups = Counter((t.camera_id, t.time_ms) for t in truth.valid.values())
    shared = sum(c for c in groups.values() if c > 1)
    assert shared > 0.02 * len(truth.valid)


def test_duplicates_also_cross_pages(busy):
    recs, _pages = _sales(busy, limit=100)
    page_of = defaultdict(set)
    for i, r in enumerate(recs):
        page_of[str(r.get("transaction_id"))].add(i // 100)
    assert any(len(p) > 1 for p in page_of.values())
    counts = Counter(str(r.get("transaction_id")) for r in recs)
    assert any(len(p) == 1 for t, p in page_of.items() if counts[t] > 1)


def test_clean_mode_has_no_oddities(make_sandbox):
    sb = make_sandbox(clean=True, fixed_sales_per_hour=5000)
    recs, _ = _sales(sb)
    assert len(recs) == 5000
    for r in recs:
        assert set(r) == set(rules.REQUIRED_FIELDS["sales"])
        assert type(r["transaction_id"]) is int and type(r["item_id"]) is int and type(r["camera_id"]) is int
        assert isinstance(r["transaction_amount"], (int, float)) and r["transaction_amount"] != 0
        assert " " in r["transaction_date"]
    truth = sb.truth(START, END)
    assert not truth.rejected and len(truth.valid) == 5000
    assert any(t.amount < 0 for t in truth.valid.values())  # refunds are data, not an oddity
    assert all(t.verkada_camera_id is not None for t in truth.valid.values())
    for ep in ["stores", "points-of-sale", "cameras", "inventory"]:
        raw = sb.world.raw[ep]
        t = sb.dimension_truth(ep)
        assert not t.rejected and len(t.valid) == len(raw)
    assert all(v is not None for v in sb.camera_mapping().values())
    names = [c["name"] for c in sb.verkada_cameras()]
    jd_names = {c["camera_name"] for c in sb.world.raw["cameras"]}
    assert jd_names <= set(names)


def test_camera_mapping_quirks(sandbox):
    vcams = sandbox.verkada_cameras()
    vids = {c["camera_id"] for c in vcams}
    by_name = Counter(c["name"].casefold() for c in vcams)
    cams = sandbox.dimension_truth("cameras").valid
    mapping = sandbox.camera_mapping()
    cfg = sandbox.config
    assert sum(1 for v in mapping.values() if v is None) == cfg.unmapped_cameras + cfg.ambiguous_camera_names
    assert sum(1 for k, v in mapping.items() if k == v) == cfg.uuid_camera_ids
    assert sum(1 for c in cams.values() if by_name[c["camera_name"].casefold()] == 2) == cfg.ambiguous_camera_names
    exact = {c["name"] for c in vcams}
    assert (
        any(c["camera_name"] not in exact and by_name[c["camera_name"].casefold()] == 1 for c in cams.values())
        or cfg.case_mismatch_rate == 0
    )
    for v in mapping.values():
        assert v is None or v in vids
    for c in vcams:
        assert len(c["camera_id"]) == 36 and c["camera_id"].count("-") == 4
    # JD cameras name their till, and the point of sale links back
    pos = sandbox.dimension_truth("points-of-sale").valid
    for cid, c in cams.items():
        if c["pos_id"] in pos:
            assert pos[c["pos_id"]]["camera_id"] == cid
    assert any(" Till " in c["camera_name"] for c in cams.values())


def test_items_have_unicode_names_and_two_decimal_prices(make_sandbox):
    sb = make_sandbox(items=200)
    items = sb.dimension_truth("inventory").valid
    assert any(any(ord(ch) > 127 for ch in i["item_name"]) for i in items.values())
    assert all(i["item_price"] == i["item_price"].quantize(Decimal("0.01")) for i in items.values())
    assert any(isinstance(i["raw"]["item_price"], str) for i in items.values()), "some prices are served as text"


def test_truth_with_sub_hour_window(busy):
    a = datetime(2024, 3, 2, 14, 10, 30, 500000, tzinfo=UTC)
    b = datetime(2024, 3, 2, 14, 20, tzinfo=UTC)
    truth = busy.truth(a, b)
    assert truth.valid and all(a <= t.instant < b for t in truth.valid.values())
    recs, _ = all_pages(jd(busy), busy.jd_base_url + "/v1/sales", start=a.isoformat(), end=b.isoformat(), limit=1000)
    assert len(truth.valid) + len(truth.rejected) <= len(recs)
    assert [r for r in recs if r in [x.raw for x in truth.rejected]] == [x.raw for x in truth.rejected]
