"""The code location's definitions, one folder per domain, loaded by Dagster's folder loader
(`dagster.components.load_defs`, called in jd_helix/definitions.py): every asset, check, job,
schedule and sensor at the top level of a module here is picked up.

reference_data/  JD's and Verkada's reference tables and the job that refreshes them
hourly_sales/    each hour's sales: extract, join to cameras, per-store totals, their checks and schedule
exceptions/      the hour's transactions flagged for loss prevention (refunds, high values, ...)
helix/           posting to Verkada Helix: the event type, the ledger, retries, re-joins, freshness
alerts/          webhooks for failed runs and red checks
runs/            fail_dead_runs: runs whose worker died (a replaced container) are failed, so that retries resume them
"""
