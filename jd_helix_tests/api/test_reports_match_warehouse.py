"""Every report of the HTTP API, page after page, equals the same question asked of the DuckDB tables."""

from __future__ import annotations

import orjson

from jd_helix_tests.api.conftest import AUTH, get_all, instant
from jd_helix_tests.api.warehouse import POSTED_HOURS, SALES_PER_HOUR, UNPOSTED_HOUR

TRANSACTIONS_SQL = """
SELECT e.transaction_id, e.transaction_at, e.transaction_amount::VARCHAR, e.store_id, e.pos_id,
       e.verkada_camera_id, coalesce(l.status, 'not_in_ledger'), l.posted_at, l.footage_url
FROM transaction_camera_events e LEFT JOIN helix_events l USING (transaction_id)
WHERE e.transaction_at >= $start AND e.transaction_at < $end {store}
ORDER BY e.transaction_at, e.transaction_id
"""


def _as_rows(items: list[dict]) -> list[tuple]:
    return [
        (
            t["transaction_id"],
            t["transaction_at"],
            t["transaction_amount"],
            t["store_id"],
            t["pos_id"],
            t["verkada_camera_id"],
            t["helix"]["status"],
            t["helix"]["posted_at"],
            t["helix"]["footage_url"],
        )
        for t in items
    ]


def _expected(sql, start, end, store_id=None) -> list[tuple]:
    store = "AND e.store_id = $store_id" if store_id else ""
    params = {"start": start, "end": end, **({"store_id": store_id} if store_id else {})}
    return [
        (r[0], instant(r[1]), *r[2:7], instant(r[7]), r[8]) for r in sql(TRANSACTIONS_SQL.format(store=store), params)
    ]


def test_transactions_of_a_period_are_the_tables_sales_in_order(client, sql):
    start, end = POSTED_HOURS[0].replace(tzinfo=None), UNPOSTED_HOUR.replace(tzinfo=None)
    items = get_all(client, "/v1/transactions", start=instant(start), end=instant(end))
    assert _as_rows(items) == _expected(sql, start, end)
    # a fixed volume, less what was set aside: the whole of both hours is there
    assert SALES_PER_HOUR * len(POSTED_HOURS) * 0.9 < len(items) <= SALES_PER_HOUR * len(POSTED_HOURS)
    statuses = {t["helix"]["status"] for t in items}
    assert "posted" in statuses and "unmapped" in statuses
    linked = [t for t in items if t["helix"]["footage_url"]]
    assert linked and all(t["helix"]["status"] == "posted" for t in linked)


def test_sales_not_yet_in_the_ledger_are_listed_as_such(client, sql):
    items = get_all(client, "/v1/transactions", helix_status="not_in_ledger")
    expected = sql(
        "SELECT transaction_id FROM transaction_camera_events WHERE transaction_id NOT IN (SELECT transaction_id FROM helix_events) ORDER BY transaction_at, transaction_id"
    )
    assert [t["transaction_id"] for t in items] == [tid for (tid,) in expected]
    assert {t["transaction_at"][:13] for t in items} == {instant(UNPOSTED_HOUR.replace(tzinfo=None))[:13]}


def test_a_stores_transactions_are_the_tables_sales_of_that_store(client, sql):
    (store_id,) = sql(
        "SELECT store_id FROM transaction_camera_events WHERE store_id IS NOT NULL GROUP BY 1 ORDER BY count(*) DESC LIMIT 1"
    )[0]
    items = get_all(client, f"/v1/stores/{store_id}/transactions", limit=9)
    by_filter = get_all(client, "/v1/transactions", limit=500, store_id=store_id)
    from jd_helix.api.params import EARLIEST, LATEST

    assert _as_rows(items) == _as_rows(by_filter) == _expected(sql, EARLIEST, LATEST, store_id)


def test_one_transaction_by_id(client, sql):
    transaction_id, amount = sql(
        "SELECT transaction_id, transaction_amount::VARCHAR FROM helix_events JOIN transaction_camera_events USING (transaction_id) WHERE status = 'posted' LIMIT 1"
    )[0]
    response = client.get(f"/v1/transactions/{transaction_id}", headers=AUTH)
    assert response.status_code == 200
    assert response.json()["transaction_amount"] == amount
    assert response.json()["helix"]["status"] == "posted"
    missing = client.get("/v1/transactions/no-such-sale", headers=AUTH)
    assert missing.status_code == 404 and "no-such-sale" in missing.json()["detail"]


def test_sales_per_store_per_hour_are_the_store_sales_table(client, sql):
    items = get_all(client, "/v1/sales", granularity="hour", limit=4)
    expected = sql(
        "SELECT sale_hour, store_id, transactions, sales_total::VARCHAR, events_posted FROM store_sales "
        "ORDER BY sale_hour, coalesce(store_id, '')"
    )
    assert [
        (s["period_start"], s["store_id"], s["transactions"], s["sales_total"], s["events_posted"]) for s in items
    ] == [(instant(h), store, n, total, posted) for h, store, n, total, posted in expected]
    assert all(s["period_end"][:13] > s["period_start"][:13] for s in items)


def test_sales_per_store_per_day_add_up_the_hours(client, sql):
    items = get_all(client, "/v1/sales", granularity="day", limit=2)
    expected = sql(
        "SELECT date_trunc('day', sale_hour)::TIMESTAMP AS day, store_id, sum(transactions)::BIGINT, "
        "sum(sales_total)::DECIMAL(18, 2)::VARCHAR, sum(events_posted)::BIGINT FROM store_sales "
        "GROUP BY 1, 2 ORDER BY day, coalesce(store_id, '')"
    )
    assert [
        (s["period_start"], s["store_id"], s["transactions"], s["sales_total"], s["events_posted"]) for s in items
    ] == [(instant(d), store, n, total, posted) for d, store, n, total, posted in expected]
    store_id = next(s["store_id"] for s in items if s["store_id"])
    one_store = get_all(client, f"/v1/stores/{store_id}/sales")
    assert one_store == [s for s in items if s["store_id"] == store_id]


def test_stores_with_sales_are_the_stores_that_sold(client, sql):
    items = get_all(client, "/v1/stores", limit=2)
    expected = sql(
        "SELECT s.store_id, st.store_name, st.store_address, sum(s.transactions)::BIGINT, sum(s.sales_total)::VARCHAR "
        "FROM store_sales s LEFT JOIN jd_stores st USING (store_id) WHERE s.store_id IS NOT NULL "
        "GROUP BY ALL HAVING sum(s.transactions) > 0 ORDER BY s.store_id"
    )
    assert [
        (s["store_id"], s["store_name"], s["store_address"], s["transactions"], s["sales_total"]) for s in items
    ] == expected
    in_tce = sql(
        "SELECT DISTINCT store_id FROM transaction_camera_events JOIN helix_events USING (transaction_id) WHERE store_id IS NOT NULL ORDER BY 1"
    )
    assert [s["store_id"] for s in items] == [store for (store,) in in_tce]


def test_rejected_records_are_the_table_rows(client, sql):
    items = get_all(client, "/v1/rejected-records", limit=5)
    expected = sql("SELECT endpoint, scope, field, reason, raw::VARCHAR, rejected_at FROM jd_rejected_records")
    got = [(r["endpoint"], r["scope"], r["field"], r["reason"], r["raw"], r["rejected_at"]) for r in items]
    assert sorted(got, key=repr) == sorted(
        [(e, s, f, why, orjson.loads(raw), instant(at)) for e, s, f, why, raw, at in expected], key=repr
    )
    assert len({r["record_key"] for r in items}) == len(items)
    assert {r["scope"] for r in items} >= {"refresh"}
    hourly = get_all(
        client, "/v1/rejected-records", start=instant(POSTED_HOURS[0].replace(tzinfo=None)), endpoint="/v1/sales"
    )
    assert hourly and all(r["hour"] and r["endpoint"] == "/v1/sales" for r in hourly)
    assert (
        len(hourly)
        == sql("SELECT count(*) FROM jd_rejected_records WHERE endpoint = '/v1/sales' AND scope <> 'refresh'")[0][0]
    )


def test_every_answer_says_how_fresh_it_is(client, sql):
    pages = [
        client.get(path, headers=AUTH).json()
        for path in ("/v1/transactions", "/v1/sales", "/v1/stores", "/v1/rejected-records")
    ]
    status = client.get("/v1/status", headers=AUTH).json()
    assert {page["as_of"] for page in pages} == {status["as_of"]}
    assert status["latest_sales_hour"] == instant(sql("SELECT max(sale_hour) FROM jd_transactions")[0][0])
