"""/v1/exceptions and `jd-helix report exceptions` give the transaction_exceptions table the
assets built: paged, filtered by rule and store, per store and till."""

import json

from click.testing import CliRunner

from jd_helix.api.exceptions import ExceptionRule
from jd_helix.cli.main import main
from jd_helix.domain.exception_rules import RULES
from jd_helix_tests.api.conftest import AUTH, get_all, instant
from jd_helix_tests.api.warehouse import POSTED_HOURS, UNPOSTED_HOUR

START, END = POSTED_HOURS[0].replace(tzinfo=None), UNPOSTED_HOUR.replace(tzinfo=None)
TABLE_SQL = (
    "SELECT transaction_id, transaction_at, transaction_amount::VARCHAR, store_id, pos_id, exceptions "
    "FROM transaction_exceptions WHERE transaction_at >= $start AND transaction_at < $end {rule} "
    "ORDER BY transaction_at, transaction_id"
)


def _rows(items: list[dict]) -> list[tuple]:
    return [
        (
            i["transaction_id"],
            i["transaction_at"],
            i["transaction_amount"],
            i["store_id"],
            i["pos_id"],
            ",".join(i["exceptions"]),
        )
        for i in items
    ]


def _expected(sql, rule: str | None = None) -> list[tuple]:
    where = f"AND {rule}" if rule else ""
    return [(r[0], instant(r[1]), *r[2:]) for r in sql(TABLE_SQL.format(rule=where), {"start": START, "end": END})]


def test_flagged_transactions_are_the_tables_rows_in_order_page_by_page(client, sql):
    items = get_all(client, "/v1/exceptions", limit=2, start=instant(START), end=instant(END))
    assert _rows(items) == _expected(sql)
    refunds = [i for i in items if "refund" in i["exceptions"]]
    assert refunds and all(i["transaction_amount"].startswith("-") for i in refunds)


def test_the_rule_filter_keeps_what_that_rule_flagged(client, sql):
    for rule in RULES:
        items = get_all(client, "/v1/exceptions", start=instant(START), end=instant(END), rule=rule)
        assert _rows(items) == _expected(sql, rule), rule


def test_the_api_knows_the_rules_the_pipeline_has():
    assert [rule.value for rule in ExceptionRule] == list(RULES)


def test_an_unknown_rule_or_store_is_a_400_naming_it(client):
    for params, name in (({"rule": "shoplifting"}, "rule"), ({"store_id": "no-such-store"}, "store_id")):
        response = client.get("/v1/exceptions", params=params, headers=AUTH)
        assert response.status_code == 400 and name in response.text, response.text


def test_the_cli_counts_each_rule_per_store_and_till(warehouse, sql):
    window = [
        "--start",
        START.isoformat(timespec="minutes"),
        "--end",
        END.isoformat(timespec="minutes"),
        "--database",
        warehouse,
    ]
    result = CliRunner().invoke(main, ["report", "exceptions", *window, "--format", "json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    counted = {(r["store_id"], r["pos_id"]): [r["flagged"], *(r[rule] for rule in RULES)] for r in rows}
    expected = sql(
        f"SELECT store_id, pos_id, count(*), {', '.join(f'count(*) FILTER (WHERE {rule})' for rule in RULES)} "
        "FROM transaction_exceptions WHERE transaction_at >= $start AND transaction_at < $end GROUP BY ALL",
        {"start": START, "end": END},
    )
    assert counted == {(store, pos): list(counts) for store, pos, *counts in expected}
    assert sum(r["refund"] for r in rows) > 0

    refunds_only = CliRunner().invoke(main, ["report", "exceptions", *window, "--rule", "refund", "--format", "json"])
    assert sum(r["flagged"] for r in json.loads(refunds_only.output)) == sum(r["refund"] for r in rows)
