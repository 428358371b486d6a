"""The event types file: parsed into types, and every mistake named with its file and line."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pytest

from jd_helix.defs.helix.outbox import ATTRIBUTE_COLUMNS
from jd_helix.domain.event_types import (
    ATTRIBUTES,
    EventType,
    EventTypesError,
    load_event_types,
    parse_event_types,
)
from jd_helix.domain.exception_rules import RULES
from jd_helix.resources.from_environment import build_resources
from jd_helix.resources.helix_settings import EVENT_SCHEMA

EXAMPLE = Path(__file__).resolve().parents[1] / "event_types.example.yaml"


def test_no_file_is_one_type_for_every_transaction_with_todays_attributes():
    (default,) = load_event_types(None, "JD Sports Sale")
    assert default == EventType(name="JD Sports Sale")
    assert default.schema == EVENT_SCHEMA
    assert default.takes_sql == "true"
    assert load_event_types("", "Other")[0].name == "Other"


def test_the_declarable_attributes_are_the_outboxs_event_columns():
    assert ATTRIBUTES == ATTRIBUTE_COLUMNS
    assert set(RULES) <= set(ATTRIBUTES)


def test_the_example_file_declares_three_types():
    sale, refund, exception = load_event_types(str(EXAMPLE), "unused")
    assert sale == EventType(name="JD Sports Sale")
    assert refund.refunds_only and refund.flagged_by is None and refund.stores is None
    assert refund.schema == {
        "transaction_id": "string",
        "transaction_amount": "float",
        "item_name": "string",
        "store_name": "string",
        "pos_name": "string",
        "repeat_refunds": "boolean",
        "exceptions": "string",
    }
    assert exception.flagged_by == ("high_value", "price_override", "after_hours")
    assert exception.stores == ("0101", "0102")
    assert exception.takes_sql == (
        "true AND (coalesce(x.high_value, false) OR coalesce(x.price_override, false) OR coalesce(x.after_hours, false))"
        " AND list_contains($takes_stores, e.store_id)"
    )
    assert exception.takes_params == {"takes_stores": ["0101", "0102"]}


def test_flagged_any_and_a_quoted_store_bound_as_a_value():
    (event_type,) = parse_event_types(
        'event_types:\n  - name: Any\n    takes: {flagged: any, stores: ["O\'Hare"]}\n', "f"
    )
    assert event_type.flagged_by == ()
    assert (
        event_type.takes_sql == "true AND coalesce(x.exceptions, '') <> '' AND list_contains($takes_stores, e.store_id)"
    )
    sales = (
        "SELECT * FROM (VALUES ('t1', 'O''Hare'), ('t2', 'Elsewhere'), ('t3', 'O''Hare')) e(transaction_id, store_id)"
    )
    flags = "SELECT * FROM (VALUES ('t1', 'refund'), ('t2', 'refund'), ('t3', '')) x(transaction_id, exceptions)"
    taken = duckdb.connect().execute(
        f"SELECT e.transaction_id FROM ({sales}) e JOIN ({flags}) x USING (transaction_id) WHERE {event_type.takes_sql}",
        event_type.takes_params,
    )
    assert taken.fetchall() == [("t1",)]


GOOD_TYPE = "  - name: Sale\n    attributes: [transaction_amount]\n"


@pytest.mark.parametrize(
    ("text", "line", "says"),
    [
        (
            GOOD_TYPE + "  - name: Refund\n    attributes: [transaction_amount, colour]\n",
            5,
            "unknown attribute 'colour'",
        ),
        (
            GOOD_TYPE + "  - name: Flagged\n    takes:\n      flagged: [high_value, shoplifting]\n",
            6,
            "unknown rule 'shoplifting'",
        ),
        (GOOD_TYPE + "  - name: Sale\n", 4, "duplicate event type name 'Sale' (first declared at line 2)"),
        (GOOD_TYPE + "  - name: Some\n    takes:\n      weekdays: [monday]\n", 6, "unknown key 'weekdays' in `takes`"),
        (GOOD_TYPE + "  - name: Some\n    takes:\n      refunds: maybe\n", 6, "`refunds` must be true"),
        (
            GOOD_TYPE + "  - name: Some\n    takes:\n      stores: []\n",
            6,
            "`stores` (store ids) must be a non-empty list",
        ),
        (GOOD_TYPE + "  - name: Some\n    takes: refunds\n", 5, "`takes` (or `all`) must be a mapping"),
        (GOOD_TYPE + "  - attributes: all\n", 4, "needs a `name`"),
        (GOOD_TYPE + "  - name: Some\n    colour: red\n", 5, "unknown key 'colour' in an event type"),
    ],
)
def test_a_mistake_is_named_with_the_file_and_its_line(text, line, says):
    with pytest.raises(EventTypesError) as raised:
        parse_event_types("event_types:\n" + text, "types.yaml")
    assert str(raised.value).startswith(f"types.yaml, line {line}: ")
    assert says in str(raised.value)


def test_a_file_that_is_not_yaml_or_not_there_is_named():
    with pytest.raises(EventTypesError, match=re.escape("types.yaml: not valid YAML")):
        parse_event_types("event_types: [\n", "types.yaml")
    with pytest.raises(EventTypesError, match=re.escape("no/such.yaml: cannot read")):
        load_event_types("no/such.yaml", "x")
    with pytest.raises(EventTypesError, match="non-empty list"):
        parse_event_types("event_types: []\n", "types.yaml")


def test_the_code_location_refuses_to_load_a_bad_file(tmp_path, monkeypatch):
    bad = tmp_path / "types.yaml"
    bad.write_text("event_types:\n  - name: Sale\n    attributes: [colour]\n")
    monkeypatch.setenv("JD_HELIX_EVENT_TYPES_FILE", str(bad))
    with pytest.raises(EventTypesError, match=f"{bad}, line 3: unknown attribute 'colour'"):
        build_resources()
    monkeypatch.setenv("JD_HELIX_EVENT_TYPES_FILE", str(EXAMPLE))
    assert build_resources()["helix_settings"].event_types_file == str(EXAMPLE)
