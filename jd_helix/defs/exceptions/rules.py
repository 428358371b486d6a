"""The exception rules: what loss prevention searches Helix for, each flag one SQL expression.

Each transaction gets one boolean per rule and `exceptions`, the names of the rules that fired
(comma-separated, empty when none). Thresholds come from `ExceptionSettings`. A rule that needs
history the warehouse does not have yet (a new store, a young warehouse) stays silent rather
than guessing. Instants are UTC: a store's quiet hours are learnt from its own sales, so no
time zone per store is needed.

| rule | why loss prevention wants it | fires when |
| --- | --- | --- |
| refund | refunds are where cash leaves a till: fake returns, refunds to a friend's card | the amount is negative |
| high_value | a sale far above the store's usual basket is worth a look at the video | a sale above `high_value_amount`, or above the store's `high_value_percentile` of the `high_value_history_days` before the hour (once it has `high_value_min_history_sales` of them) |
| price_override | an amount that does not match the item's price: short rings, sweethearting, a keyed-in price | a sale's amount differs from its item's list price times the quantity it comes nearest to (at least 1) by more than `price_override_share`; items with no list price: silent |
| after_hours | till activity while the store is normally quiet (before opening, after closing) | the store made fewer than `after_hours_quiet_sales_per_day` sales a day, on average, in this hour of the day over its last `after_hours_history_days`; silent with less than `after_hours_min_history_days` of history |
| repeat_refunds | several refunds on one till in a few minutes: refund fraud is done in runs | the refund is the `repeat_refunds_count`-th (or later) on its till within `repeat_refunds_minutes` ending at it (a till: its pos_id, else its JD camera) |
"""

from __future__ import annotations

from typing import Any

from jd_helix.resources.exception_settings import ExceptionSettings

# One hour's flags [start, end) over transaction_camera_events, only the rows with a flag, in
# the column order of transaction_exceptions. The history windows end at the hour's start, so
# an hour's flags do not depend on the hours after it.
FLAGS_SQL_TEMPLATE = """
WITH hour_sales AS (
    SELECT e.*, i.item_price FROM transaction_camera_events e LEFT JOIN jd_items i USING (item_id)
    WHERE e.sale_hour >= $start AND e.sale_hour < $end
),
value_norm AS (
    SELECT store_id, count(*) AS sales, approx_quantile(transaction_amount::DOUBLE, $percentile::FLOAT) AS norm
    FROM transaction_camera_events
    WHERE sale_hour >= $start - to_days($value_days) AND sale_hour < $start AND transaction_amount > 0
      AND store_id IN (SELECT store_id FROM hour_sales)
    GROUP BY store_id
),
quiet AS (
    SELECT store_id, date_diff('hour', min(sale_hour), $start) / 24.0 AS days_known,
           count(*) FILTER (WHERE hour(sale_hour) = hour($start)) AS at_this_hour
    FROM transaction_camera_events
    WHERE sale_hour >= $start - to_days($quiet_days) AND sale_hour < $start
      AND store_id IN (SELECT store_id FROM hour_sales)
    GROUP BY store_id
),
refunds AS (
    SELECT transaction_id,
           count(*) OVER (PARTITION BY coalesce(pos_id, jd_camera_id) ORDER BY time_ms
                          RANGE BETWEEN {repeat_ms} PRECEDING AND CURRENT ROW) AS recent_on_till
    FROM transaction_camera_events
    WHERE sale_hour >= $start - INTERVAL 1 HOUR AND sale_hour < $end AND transaction_amount < 0
),
flagged AS (
    SELECT h.sale_hour, h.transaction_id, h.transaction_at, h.transaction_amount, h.item_id,
           h.store_id, h.store_name, h.pos_id, h.pos_name,
           h.transaction_amount < 0 AS refund,
           h.transaction_amount > 0 AND (h.transaction_amount > $high_value_amount
               OR coalesce(v.sales >= $min_history_sales AND h.transaction_amount > v.norm, false)) AS high_value,
           coalesce(h.transaction_amount > 0 AND h.item_price > 0
               AND abs(h.transaction_amount - h.item_price * greatest(1, round(h.transaction_amount / h.item_price)))
                   > $override_share * h.item_price * greatest(1, round(h.transaction_amount / h.item_price)),
               false) AS price_override,
           coalesce(q.days_known >= $min_history_days AND q.at_this_hour / q.days_known < $quiet_per_day,
               false) AS after_hours,
           coalesce(r.recent_on_till >= $repeat_count, false) AS repeat_refunds
    FROM hour_sales h
    LEFT JOIN value_norm v ON v.store_id = h.store_id
    LEFT JOIN quiet q ON q.store_id = h.store_id
    LEFT JOIN refunds r ON r.transaction_id = h.transaction_id
)
SELECT *,
       concat_ws(',', CASE WHEN refund THEN 'refund' END, CASE WHEN high_value THEN 'high_value' END,
                 CASE WHEN price_override THEN 'price_override' END, CASE WHEN after_hours THEN 'after_hours' END,
                 CASE WHEN repeat_refunds THEN 'repeat_refunds' END) AS exceptions,
       $built_at AS built_at
FROM flagged
WHERE refund OR high_value OR price_override OR after_hours OR repeat_refunds
"""


def flags_sql(settings: ExceptionSettings) -> str:
    """The hour's flags SQL; the window frame takes a constant, so the minutes go in as text
    (an int from validated settings)."""
    return FLAGS_SQL_TEMPLATE.format(repeat_ms=int(settings.repeat_refunds_minutes) * 60_000)


def flags_params(settings: ExceptionSettings) -> dict[str, Any]:
    return {
        "percentile": settings.high_value_percentile,
        "value_days": settings.high_value_history_days,
        "high_value_amount": settings.high_value_amount,
        "min_history_sales": settings.high_value_min_history_sales,
        "override_share": settings.price_override_share,
        "quiet_days": settings.after_hours_history_days,
        "min_history_days": settings.after_hours_min_history_days,
        "quiet_per_day": settings.after_hours_quiet_sales_per_day,
        "repeat_count": settings.repeat_refunds_count,
    }
