"""Plain Python shared by the domains, with no Dagster in it: ledger statuses, time helpers."""
