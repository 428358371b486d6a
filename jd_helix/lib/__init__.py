"""Dagster-aware helpers the domains share: hourly partitions, the write-and-figures sequence of
hourly assets, per-hour check results, asset defaults, code links, concurrency pools."""
