"""`valid_transactions` holds three rules in one check result per hour: each hour of a window is
judged on its own, and a failure names exactly the rules that hour breaks."""

from datetime import datetime, timedelta

import duckdb

from jd_helix.defs.hourly_sales.checks import _transactions_by_hour
from jd_helix.lib.hourly_table import HourWindow

CLEAN, BROKEN, EMPTY = datetime(2026, 11, 28, 10), datetime(2026, 11, 28, 11), datetime(2026, 11, 28, 12)


def sale(transaction_id: str, hour: datetime, minute: int, amount: float, filed_under: datetime | None = None):
    at = hour + timedelta(minutes=minute)
    return (transaction_id, at, int((at - datetime(1970, 1, 1)).total_seconds() * 1000), amount, filed_under or hour)


def figures(result) -> dict:
    return {name: value.value for name, value in result.metadata.items()}


def test_each_hour_names_only_the_rules_it_breaks():
    conn = duckdb.connect()
    conn.execute("CREATE TABLE jd_transactions (transaction_id VARCHAR, transaction_at TIMESTAMP, time_ms BIGINT, "
                 "transaction_amount DOUBLE, sale_hour TIMESTAMP)")
    conn.executemany("INSERT INTO jd_transactions VALUES (?, ?, ?, ?, ?)", [
        sale("a", CLEAN, 1, 10.0),
        sale("b", CLEAN, 2, 0.0),
        sale("c", BROKEN, 3, 5.0),
        sale("c", BROKEN, 3, 5.0),  # repeated id
        sale("d", BROKEN, 4, -2.5),  # negative amount
        sale("e", CLEAN, 5, 1.0, filed_under=BROKEN),  # an instant of another hour
    ])
    results = _transactions_by_hour(conn, HourWindow(CLEAN, EMPTY + timedelta(hours=1)))

    [clean], [broken], [empty] = results[CLEAN], results[BROKEN], results[EMPTY]
    assert clean.passed and clean.description is None
    assert (figures(clean)["failed_rules"], figures(clean)["rows"]) == ("none", 2)
    assert empty.passed and figures(empty)["rows"] == 0

    assert not broken.passed
    assert figures(broken)["rows"] == 4
    assert (figures(broken)["duplicate_rows"], figures(broken)["negative_amounts"], figures(broken)["misplaced"]) == (1, 1, 1)
    assert figures(broken)["failed_rules"] == "unique_transaction_ids, non_negative_amounts, instants_inside_their_hour"
    assert broken.description == (
        "unique_transaction_ids: 1 repeated transaction ids; non_negative_amounts: 1 sales with a negative amount; "
        "instants_inside_their_hour: 1 sales filed under the wrong hour"
    )
    examples = broken.metadata["examples"].value
    assert all(transaction_id in examples for transaction_id in ("c", "d", "e"))
