"""`jd-helix report exceptions`: the flagged transactions of a period per store and till, with
a count per exception rule (defs/exceptions/rules.py), the tills with most first."""

from datetime import datetime

import pandas as pd

from jd_helix.cli.report_queries import WriterWait, connect_when_free
from jd_helix.domain.exception_rules import RULES

EXCEPTIONS_BY_TILL_SQL = f"""
SELECT store_id, any_value(store_name) AS store_name, pos_id, any_value(pos_name) AS pos_name,
       count(*) AS flagged, {", ".join(f"count(*) FILTER (WHERE {rule}) AS {rule}" for rule in RULES)},
       min(transaction_at) AS first_at, max(transaction_at) AS last_at
FROM transaction_exceptions
WHERE transaction_at >= $start AND transaction_at < $end
  AND ($rule IS NULL OR list_contains(string_split(exceptions, ','), $rule))
GROUP BY store_id, pos_id
ORDER BY flagged DESC, store_id, pos_id
"""


def exceptions_by_till(
    database: str, start: datetime, end: datetime, rule: str | None, wait: WriterWait
) -> pd.DataFrame:
    """Per store and till, the transactions of [start, end) (naive UTC) flagged (by `rule`, or any)."""
    with connect_when_free(database, wait) as conn:
        return conn.execute(EXCEPTIONS_BY_TILL_SQL, {"start": start, "end": end, "rule": rule}).df()
