"""Each exception rule fires where it should and stays silent where it should, on an hand-made
hour (in DuckDB, with the warehouse's real tables) and its history."""

from datetime import datetime, timedelta

import duckdb
import pytest

from jd_helix.defs.exceptions.rules import flags_params, flags_sql
from jd_helix.domain.exception_rules import RULES
from jd_helix.resources.exception_settings import ExceptionSettings
from jd_helix.resources.migrations import migrate

# Any hour will do: the rules read only the table. 03:00 UTC, when the stores below are quiet.
HOUR = datetime(2026, 3, 2, 3)
EPOCH = datetime(1970, 1, 1)


def sale(transaction_id: str, at: datetime, amount: float, store: str, till: str, item: str = "shoe") -> tuple:
    time_ms = int((at - EPOCH) / timedelta(milliseconds=1))
    hour = at.replace(minute=0, second=0)
    return (
        hour,
        transaction_id,
        at,
        time_ms,
        amount,
        item,
        None,
        "cam-" + till,
        None,
        "v-" + till,
        "name",
        None,
        till,
        None,
        store,
        "Store " + store,
        None,
    )


def history(store: str, days: int, per_day: int, hour_of_day: int, amount: float = 50.0) -> list[tuple]:
    rows = []
    for day in range(1, days + 1):
        start = (HOUR - timedelta(days=day)).replace(hour=hour_of_day)
        rows += [
            sale(f"{store}-h{day}-{i}", start + timedelta(seconds=i), amount, store, store + "-till")
            for i in range(per_day)
        ]
    return rows


def at(minute: int, hour: datetime = HOUR) -> datetime:
    return hour + timedelta(minutes=minute)


THE_HOUR = [
    # S3: no history at all
    sale("refund", at(5), -50.0, "S3", "P3"),
    sale("big", at(6), 1500.0, "S3", "P3"),  # 30 shoes exactly: a high value, not an override
    sale("short", at(7), 20.0, "S3", "P3"),  # a shoe rung at 20
    sale("pair", at(8), 100.0, "S3", "P3"),  # two shoes
    sale("discount", at(9), 40.0, "S3", "P3"),  # 20 % off: within the 30 % allowed
    sale("unpriced", at(10), 20.0, "S3", "P3", item="gift"),  # no list price: silent
    # S1: 10 days of history, all at 12:00, 25 sales of 50 a day: quiet at 03:00, norm 50
    sale("night", at(10), 50.0, "S1", "P1"),
    sale("night_big", at(11), 100.0, "S1", "P1", item="bag"),
    # S2: 250 sales at 12:00 in 2 days: a norm, but too young to know its quiet hours
    sale("young", at(20), 50.0, "S2", "P2"),
    sale("young_big", at(21), 100.0, "S2", "P2", item="bag"),
    # S4: 10 sales in 8 days, all at 03:00: not quiet at 03:00, too few sales for a norm
    sale("few", at(25), 100.0, "S4", "P4", item="bag"),
    # refunds in a run on one till (S3, P5), two far apart on another (P6), and a run that
    # started in the hour before (P7)
    sale("r1", at(30), -10.0, "S3", "P5"),
    sale("r2", at(33), -10.0, "S3", "P5"),
    sale("r3", at(36), -10.0, "S3", "P5"),
    sale("far1", at(40), -10.0, "S3", "P6"),
    sale("far2", at(55), -10.0, "S3", "P6"),
    sale("p7b", at(1), -10.0, "S3", "P7"),
    sale("p7c", at(2), -10.0, "S3", "P7"),
]
BEFORE_THE_HOUR = [
    *history("S1", days=10, per_day=25, hour_of_day=12),
    *history("S2", days=2, per_day=125, hour_of_day=12),
    *history("S4", days=8, per_day=1, hour_of_day=3)[:10],
    sale("p7a", at(-2), -10.0, "S3", "P7"),
]
EXPECTED = {
    "refund": "refund",
    "big": "high_value",
    "short": "price_override",
    "night": "after_hours",
    "night_big": "high_value,after_hours",
    "young_big": "high_value",
    "r1": "refund",
    "r2": "refund",
    "r3": "refund,repeat_refunds",
    "far1": "refund",
    "far2": "refund",
    "p7b": "refund",
    "p7c": "refund,repeat_refunds",
}


def flags(conn, settings: ExceptionSettings) -> dict[str, str]:
    conn.execute("DELETE FROM transaction_exceptions")
    conn.execute(
        f"INSERT INTO transaction_exceptions {flags_sql(settings)}",
        {**flags_params(settings), "start": HOUR, "end": HOUR + timedelta(hours=1), "built_at": None},
    )
    return dict(conn.execute("SELECT transaction_id, exceptions FROM transaction_exceptions").fetchall())


@pytest.fixture(scope="module")
def warehouse():
    with duckdb.connect() as conn:
        migrate(conn)
        conn.executemany(
            "INSERT INTO transaction_camera_events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            THE_HOUR + BEFORE_THE_HOUR,
        )
        conn.execute("INSERT INTO jd_items VALUES ('shoe', 'Shoe', 50, 1, NULL), ('bag', 'Bag', 100, 1, NULL)")
        yield conn


def test_each_rule_fires_where_it_should_and_only_there(warehouse):
    assert flags(warehouse, ExceptionSettings()) == EXPECTED


def test_each_flag_column_agrees_with_the_exceptions_text(warehouse):
    flags(warehouse, ExceptionSettings())
    rows = warehouse.execute(f"SELECT exceptions, {', '.join(RULES)} FROM transaction_exceptions").fetchall()
    for exceptions, *fired in rows:
        assert exceptions.split(",") == [rule for rule, on in zip(RULES, fired, strict=True) if on]


def test_thresholds_come_from_the_settings(warehouse):
    looser = ExceptionSettings(
        high_value_amount=10_000, price_override_share=0.7, repeat_refunds_count=4, after_hours_min_history_days=20
    )
    assert flags(warehouse, looser) == {
        **dict.fromkeys(("refund", "r1", "r2", "r3", "far1", "far2", "p7b", "p7c"), "refund"),
        "night_big": "high_value",
        "young_big": "high_value",
    }
