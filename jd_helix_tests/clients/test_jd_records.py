"""The JD record parsers: every oddity of docs/jd-api.md either parses exactly or is set aside."""

from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jd_helix.clients.jd.records import (
    DIMENSIONS,
    RecordError,
    parse_amount_cents,
    parse_dimension_records,
    parse_id,
    parse_instant_ms,
    parse_transaction_page,
)

UTC = ZoneInfo("UTC")
LONDON = ZoneInfo("Europe/London")
HOUR_START_MS = 1_782_900_000_000  # 2026-07-01T10:00:00Z
HOUR_END_MS = HOUR_START_MS + 3_600_000


@pytest.mark.parametrize("raw, expected", [(123, "123"), ("123", "123"), ("A-1", "A-1")])
def test_ids_are_text_whatever_their_json_kind(raw, expected):
    assert parse_id({"id": raw}, "id") == expected


@pytest.mark.parametrize("raw", [True, 1.5, [1], {"a": 1}, "", "   ", "x" * 129])
def test_bad_ids_are_refused(raw):
    with pytest.raises(RecordError) as error:
        parse_id({"id": raw}, "id")
    assert error.value.field == "id"


def test_missing_and_null_are_told_apart():
    with pytest.raises(RecordError, match="missing"):
        parse_id({}, "id")
    with pytest.raises(RecordError, match="null"):
        parse_id({"id": None}, "id")


@pytest.mark.parametrize(
    "raw, cents",
    [
        (100, 10000),
        ("100.50", 10050),
        (19.99, 1999),
        (0.1, 10),
        ("0", 0),
        (" 7.5 ", 750),
        (1e15, 10**17),
        ("1e3", 100000),
    ],
)
def test_amounts_are_exact_cents(raw, cents):
    assert parse_amount_cents({"a": raw}, "a") == cents


@pytest.mark.parametrize(
    "raw, reason",
    [
        (-1, "negative"),
        ("-2.50", "negative"),
        ("abc", "not a number"),
        ("12,50", "not a number"),
        ("NaN", "finite"),
        ("-Infinity", "finite"),
        (float("nan"), "finite"),
        (float("inf"), "finite"),
        (True, "bool"),
        ({"value": 1}, "dict"),
        ("12.345", "2 decimal places"),
        (10**17, "too large"),
    ],
)
def test_bad_amounts_are_refused_with_a_reason(raw, reason):
    with pytest.raises(RecordError, match=reason):
        parse_amount_cents({"a": raw}, "a")


@pytest.mark.parametrize("raw, cents", [(-1, -100), ("-2.50", -250), (-19.99, -1999), (5, 500)])
def test_a_transaction_amount_may_be_negative_a_refund(raw, cents):
    assert parse_amount_cents({"a": raw}, "a", signed=True) == cents


@pytest.mark.parametrize("raw", [0, "0.00", -0.0, "-0"])
def test_a_zero_transaction_amount_is_neither_sale_nor_refund(raw):
    with pytest.raises(RecordError, match="zero amount"):
        parse_amount_cents({"a": raw}, "a", signed=True)


def test_offsetless_dates_are_in_the_api_zone_and_others_keep_their_offset():
    summer_noon_london = parse_instant_ms({"d": "2026-07-01 12:00:00"}, "d", LONDON)
    assert summer_noon_london == parse_instant_ms({"d": "2026-07-01T11:00:00Z"}, "d", UTC)
    assert parse_instant_ms({"d": "2026-07-01T13:00:00+02:00"}, "d", LONDON) == summer_noon_london
    assert parse_instant_ms({"d": "2026-07-01T11:00:00.123Z"}, "d", UTC) == summer_noon_london + 123


@pytest.mark.parametrize("raw", ["2026-07-01", "yesterday", "2026-13-01 00:00:00", 1782900000, None])
def test_bad_dates_are_refused(raw):
    with pytest.raises(RecordError):
        parse_instant_ms({"d": raw}, "d", UTC)


def _sale(**overrides):
    sale = {
        "transaction_id": 1,
        "transaction_date": "2026-07-01 10:30:00",
        "transaction_amount": "10.00",
        "item_id": 5,
        "camera_id": 9,
    }
    sale.update(overrides)
    return sale


def test_a_page_keeps_good_sales_and_sets_aside_bad_ones_with_reasons():
    page = [
        _sale(),
        _sale(transaction_id=2, unexpected="ignored"),
        _sale(transaction_id=3, transaction_amount="abc"),
        _sale(transaction_id=6, transaction_amount=-10),  # a refund
        _sale(transaction_id=7, transaction_amount=0),
        {k: v for k, v in _sale(transaction_id=4).items() if k != "camera_id"},
        _sale(transaction_id=5, transaction_date="2026-07-01 11:00:00"),  # the next hour
        "not an object",
    ]
    batch, rejected = parse_transaction_page(
        page, first_seq=100, window_start_ms=HOUR_START_MS, window_end_ms=HOUR_END_MS, local_zone=UTC
    )
    assert batch.column("transaction_id").to_pylist() == ["1", "2", "6"]
    assert batch.column("seq").to_pylist() == [100, 101, 103]
    assert batch.column("amount_cents").to_pylist() == [1000, 1000, -1000]
    assert [(r.field, r.reason) for r in rejected] == [
        ("transaction_amount", "not a number"),
        ("transaction_amount", "zero amount (neither a sale nor a refund)"),
        ("camera_id", "missing"),
        ("transaction_date", "outside the requested window"),
        ("record", "not a JSON object"),
    ]
    assert rejected[0].raw == page[2]


def test_dimension_duplicates_keep_the_last_copy():
    spec = DIMENSIONS["jd_items"]
    rows, rejected = parse_dimension_records(
        spec,
        [
            {"item_id": 1, "item_name": "Old", "item_price": 10},
            {"item_id": "2", "item_name": "Cap", "item_price": "5.50", "item_quantity": "3"},
            {"item_id": 3, "item_name": "Sock", "item_quantity": -1},
            {"item_id": "1", "item_name": "New", "item_price": 12},
            {"item_name": "No id"},
        ],
    )
    assert list(rows) == ["2", "1"]
    assert rows["1"]["item_name"] == "New" and rows["1"]["item_price_cents"] == 1200
    assert rows["2"]["item_quantity"] == 3
    assert [(r.field, r.reason) for r in rejected] == [("item_quantity", "negative count"), ("item_id", "missing")]


# Hostile input: whatever JSON arrives, a record either parses or is set aside with a reason.
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=50)
    | st.text(max_size=3).map(lambda s: (s or "x") * 5_000)  # 5,000 to 15,000 characters
    | st.sampled_from(["12.50", "-3", "1e9", "NaN", "Infinity", "2026-07-01 10:15:00", "2026-07-01T10:15:00Z", "١٢٣"]),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3),
    max_leaves=8,
)
sale_fields = ["transaction_id", "transaction_date", "transaction_amount", "item_id", "camera_id"]
hostile_sales = st.fixed_dictionaries({}, optional=dict.fromkeys(sale_fields, json_values))


@settings(max_examples=300, deadline=None)
@given(st.lists(hostile_sales | json_values, max_size=20))
def test_no_record_crashes_the_page_and_none_is_lost(page):
    batch, rejected = parse_transaction_page(
        page, first_seq=0, window_start_ms=HOUR_START_MS, window_end_ms=HOUR_END_MS, local_zone=LONDON
    )
    assert batch.num_rows + len(rejected) == len(page)
    for rejection in rejected:
        assert rejection.reason and rejection.field
    for cents in batch.column("amount_cents").to_pylist():
        assert 0 <= cents < 10**18
    for time_ms in batch.column("time_ms").to_pylist():
        assert HOUR_START_MS <= time_ms < HOUR_END_MS


@settings(max_examples=200, deadline=None)
@given(st.decimals(min_value=0, max_value=Decimal("9999999999999999.99"), places=2))
def test_every_two_place_amount_survives_as_text_and_number(amount):
    assert parse_amount_cents({"a": str(amount)}, "a") == int(amount * 100)


def _one_record_at_a_time(page, first_seq, zone):
    """The rule parse_transaction_page follows, written the plain way: each record in turn,
    its fields in order, the first that fails sets it aside; then the window."""
    kept, rejected = [], []
    for offset, record in enumerate(page):
        if not isinstance(record, dict):
            rejected.append(("record", "not a JSON object", record))
            continue
        try:
            row = (
                first_seq + offset,
                parse_id(record, "transaction_id"),
                parse_instant_ms(record, "transaction_date", zone),
                parse_amount_cents(record, "transaction_amount", signed=True),
                parse_id(record, "item_id"),
                parse_id(record, "camera_id"),
            )
            if not HOUR_START_MS <= row[2] < HOUR_END_MS:
                raise RecordError("transaction_date", "outside the requested window")
        except RecordError as error:
            rejected.append((error.field, error.reason, record))
            continue
        kept.append(row)
    return kept, rejected


# Mostly usable sales, each field now and then of another kind, broken, or absent; and
# pages of plain sales (converted a column at a time), now and then with one bad value:
# the page parser must keep and set aside exactly what the rule above does.
odd_ids = st.integers(min_value=-(2**70), max_value=2**70) | st.sampled_from(["7", " ", "", "x" * 129, True, None, 1.5])
odd_dates = st.sampled_from(
    [
        "2026-07-01 10:15:00",
        "2026-07-01T10:59:59.999Z",
        "2026-07-01 11:00:00",
        "2026-07-01T11:30:00+01:00",
        "2026-07-01",
        "bad date!!!!!!!!!!!!!",
        None,
        17,
    ]
)
odd_amounts = st.sampled_from(
    [19.99, 5, 5.0, "12.50", "-3", -1.0, 0, "0.00", -0.0, 0.001, "NaN", float("inf"), True, None, [1]]
)
_ABSENT = object()


def _usually(usual, odd):
    return st.one_of(usual, usual, usual, odd, st.just(_ABSENT))


near_sales = st.fixed_dictionaries(
    {
        "transaction_id": _usually(st.integers(0, 10**6), odd_ids),
        "transaction_date": _usually(st.just("2026-07-01 10:30:00"), odd_dates),
        "transaction_amount": _usually(st.sampled_from([9.99, 10, "4.50"]), odd_amounts),
        "item_id": _usually(st.integers(0, 50), odd_ids),
        "camera_id": _usually(st.integers(0, 50), odd_ids),
    }
).map(lambda sale: {field: value for field, value in sale.items() if value is not _ABSENT})


plain_sales = st.fixed_dictionaries(
    {
        "transaction_id": st.integers(-(2**64), 2**64),  # beyond 64 bits: not for Arrow's cast
        "transaction_date": st.sampled_from(
            ["2026-07-01 10:30:00", "2026-07-01T10:00:00+00:00", "2026-07-01 11:30:00"]
        ),
        "transaction_amount": st.sampled_from([9.99, 10, 10.0, "4.50", "4.5", -4.5, "-19.99", 0, 0.001]),
        "item_id": st.integers(0, 50),
        "camera_id": st.integers(0, 50),
    }
)
pages = st.lists(near_sales | st.sampled_from(["not an object", 3, None]), max_size=30) | st.lists(
    plain_sales, max_size=30
)


@settings(max_examples=200, deadline=None)
@given(pages, st.integers(0, 2**40))
def test_the_page_is_parsed_as_one_record_at_a_time_would(page, first_seq):
    batch, rejected = parse_transaction_page(
        page, first_seq=first_seq, window_start_ms=HOUR_START_MS, window_end_ms=HOUR_END_MS, local_zone=LONDON
    )
    kept, expected_rejected = _one_record_at_a_time(page, first_seq, LONDON)
    assert batch.to_pylist() == [dict(zip(batch.schema.names, row, strict=True)) for row in kept]
    assert [(r.field, r.reason, r.raw) for r in rejected] == expected_rejected
