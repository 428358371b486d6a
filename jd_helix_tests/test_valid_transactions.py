"""`valid_transactions` holds four rules in one check result per hour: each hour of a window is
judged on its own, and a failure names exactly the rules that hour breaks."""

from datetime import datetime, timedelta
from typing import cast

import duckdb

from jd_helix.defs.hourly_sales.checks import _transactions_by_hour
from jd_helix.lib.hourly_table import HourWindow

CLEAN, BROKEN, EMPTY = datetime(2026, 11, 28, 10), datetime(2026, 11, 28, 11), datetime(2026, 11, 28, 12)


def sale(
    transaction_id: str,
    hour: datetime,
    minute: int,
    amount: float,
    filed_under: datetime | None = None,
    item_id: str = "shoe",
):
    at = hour + timedelta(minutes=minute)
    milliseconds = int((at - datetime(1970, 1, 1)).total_seconds() * 1000)
    return (transaction_id, at, milliseconds, amount, filed_under or hour, item_id)


def figures(result) -> dict:
    return {name: value.value for name, value in result.metadata.items()}


def test_each_hour_names_only_the_rules_it_breaks():
    conn = duckdb.connect()
    conn.execute(
        "CREATE TABLE jd_transactions (transaction_id VARCHAR, transaction_at TIMESTAMP, time_ms BIGINT, "
        "transaction_amount DOUBLE, sale_hour TIMESTAMP, item_id VARCHAR)"
    )
    conn.execute("CREATE TABLE jd_items AS SELECT 'shoe' AS item_id, 50.0 AS item_price")
    conn.executemany(
        "INSERT INTO jd_transactions VALUES (?, ?, ?, ?, ?, ?)",
        [
            sale("a", CLEAN, 1, 10.0),
            sale("b", CLEAN, 2, -150.0),  # a refund of three shoes: a transaction like a sale
            sale("g", CLEAN, 3, -900.0, item_id="unpriced"),  # no list price to compare with
            sale("c", BROKEN, 3, 5.0),
            sale("c", BROKEN, 3, 5.0),  # repeated id
            sale("d", BROKEN, 4, 0.0),  # zero amount
            sale("f", BROKEN, 5, -501.0),  # a refund worth more than ten shoes
            sale("e", CLEAN, 5, 1.0, filed_under=BROKEN),  # an instant of another hour
        ],
    )
    results = _transactions_by_hour(conn, HourWindow(CLEAN, EMPTY + timedelta(hours=1)))

    [clean], [broken], [empty] = results[CLEAN], results[BROKEN], results[EMPTY]
    assert clean.passed and clean.description is None
    assert (figures(clean)["failed_rules"], figures(clean)["rows"]) == ("none", 3)
    assert empty.passed and figures(empty)["rows"] == 0

    assert not broken.passed
    assert figures(broken)["rows"] == 5
    broken_figures = figures(broken)
    assert [broken_figures[name] for name in ("duplicate_rows", "zero_amounts", "oversized_refunds", "misplaced")] == [
        1,
        1,
        1,
        1,
    ]
    assert broken_figures["failed_rules"] == (
        "unique_transaction_ids, no_zero_amounts, refunds_within_list_price, instants_inside_their_hour"
    )
    assert broken.description == (
        "unique_transaction_ids: 1 repeated transaction ids; no_zero_amounts: 1 transactions with a zero amount; "
        "refunds_within_list_price: 1 refunds worth more than 10 of their item at list price; "
        "instants_inside_their_hour: 1 sales filed under the wrong hour"
    )
    examples = cast("str", broken.metadata["examples"].value)
    assert all(transaction_id in examples for transaction_id in ("c", "d", "e", "f"))
