"""Issue 23: what the exception rules cost per hour, against the floor of touching the hour.

A temp DuckDB warehouse (the real schema, by the real migrations) holds an hour of N sales
in `transaction_camera_events` (default 100,000) and, before it, `--days` (30) of history at
H sales an hour (repeatable `--history`, default 0 and 10,000: 7.2 million rows), made in
SQL: 25 stores of 3 tills, 200 items, 1 to 3 of an item per sale, 4 % refunds, nights
quieter than days. Timed, each the median of `--repeat` (3) runs, in one process:

  floor   the hour's rows copied to a new table (reading and writing the hour, no rule);
  rules   the real flags SQL of `transaction_exceptions` for the hour (defs/exceptions/rules.py),
          with the default thresholds, inserted into transaction_exceptions.

Printed: both times, their ratio, and how many transactions each rule flagged.

Run:  python benchmarks/exception_rules.py [--sales 100000] [--history 0 --history 10000] [--days 30]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

HOUR = datetime(2026, 11, 27, 21)  # any hour: the rules read only the tables

# Sales of hours [first, first + hours) at `per_hour` each: (hour index, slot) -> one sale.
SALES_SQL = """
INSERT INTO transaction_camera_events
SELECT sale_hour, transaction_id, sold_at, epoch_ms(sold_at), CASE WHEN refund THEN -amount ELSE amount END,
       item_id, 'Item ' || item_id, 'cam-' || till, NULL, 'v-' || till, 'name', NULL,
       till, 'Till ' || till, store, 'Store ' || store, NULL
FROM (
    SELECT $first + to_hours(h) AS sale_hour,
           'h' || h || '-' || s AS transaction_id,
           $first + to_hours(h) + to_microseconds((s * 3600000000 // $per_hour)::BIGINT) AS sold_at,
           hash(h, s) AS bits,
           1 + (bits % 200)::INTEGER AS item,
           item::VARCHAR AS item_id,
           (bits >> 8) % 75 AS till_index,
           'S' || (till_index // 3) AS store,
           'P' || till_index AS till,
           ((bits >> 16) % 100) < 4 AS refund,
           (5 + item) * (1 + (bits >> 24) % 3)::DECIMAL(18, 2) AS amount
    FROM range($hours) t(h), range($per_hour) u(s)
    -- nights are quieter: from 22:00 to 06:00 keep one sale in 20
    WHERE hour($first + to_hours(h)) BETWEEN 6 AND 21 OR hash(h, s, 7) % 20 = 0
)
"""


def build(conn, sales: int, history_per_hour: int, days: int) -> int:
    from jd_helix.resources.migrations import migrate

    migrate(conn)
    conn.execute("INSERT INTO jd_items SELECT i::VARCHAR, 'Item ' || i, 5 + i, 10, NULL FROM range(1, 201) t(i)")
    if history_per_hour:
        conn.execute(
            SALES_SQL, {"first": HOUR - timedelta(days=days), "hours": days * 24, "per_hour": history_per_hour}
        )
    # the hour itself, all of it (the night filter would thin it: 21:00 is a day hour)
    conn.execute(SALES_SQL, {"first": HOUR, "hours": 1, "per_hour": sales})
    return int(conn.execute("SELECT count(*) FROM transaction_camera_events").fetchone()[0])


def timed(conn, sql: str, params: dict, repeat: int, before: str) -> float:
    times = []
    for _ in range(repeat):
        conn.execute(before)
        started = time.perf_counter()
        conn.execute(sql, params)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def run(sales: int, history_per_hour: int, days: int, repeat: int) -> dict:
    import duckdb

    from jd_helix.defs.exceptions.rules import flags_params, flags_sql
    from jd_helix.domain.exception_rules import RULES
    from jd_helix.resources.exception_settings import ExceptionSettings

    folder = tempfile.mkdtemp(prefix="exception_rules_")
    database = os.path.join(folder, "bench.duckdb")
    with duckdb.connect(database) as conn:
        started = time.perf_counter()
        rows = build(conn, sales, history_per_hour, days)
        built_s = time.perf_counter() - started
        window = {"start": HOUR, "end": HOUR + timedelta(hours=1)}
        floor = timed(
            conn,
            "CREATE TABLE hour_copy AS SELECT * FROM transaction_camera_events WHERE sale_hour >= $start AND sale_hour < $end",
            window,
            repeat,
            "DROP TABLE IF EXISTS hour_copy",
        )
        settings = ExceptionSettings()
        rules = timed(
            conn,
            f"INSERT INTO transaction_exceptions {flags_sql(settings)}",
            {**flags_params(settings), **window, "built_at": None},
            repeat,
            "DELETE FROM transaction_exceptions",
        )
        counts = conn.execute(
            f"SELECT count(*), {', '.join(f'count(*) FILTER (WHERE {rule})' for rule in RULES)} FROM transaction_exceptions"
        ).fetchone()
    for name in os.listdir(folder):
        os.remove(os.path.join(folder, name))
    os.rmdir(folder)
    assert counts is not None
    return {
        "sales": sales,
        "history_per_hour": history_per_hour,
        "rows": rows,
        "built_s": built_s,
        "floor_s": floor,
        "rules_s": rules,
        "flagged": counts[0],
        "per_rule": dict(zip(RULES, counts[1:], strict=True)),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sales", type=int, default=100_000, help="sales in the hour flagged")
    p.add_argument(
        "--history", type=int, action="append", help="sales per hour of history (repeatable); default 0 and 10,000"
    )
    p.add_argument("--days", type=int, default=30, help="days of history")
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args()
    print(f"exception rules over an hour of {args.sales:,} sales; {os.cpu_count()} cores")
    for history in args.history or [0, 10_000]:
        r = run(args.sales, history, args.days, args.repeat)
        print(
            f"\nhistory {history:,} sales/hour x {args.days} days ({r['rows']:,} rows in all, built in {r['built_s']:.1f} s)"
        )
        print(
            f"  floor (copy the hour) {r['floor_s']:.3f} s; rules {r['rules_s']:.3f} s = {r['rules_s'] / r['floor_s']:.1f}x the floor"
        )
        print(f"  flagged {r['flagged']:,}: " + ", ".join(f"{rule} {count:,}" for rule, count in r["per_rule"].items()))


if __name__ == "__main__":
    main()
