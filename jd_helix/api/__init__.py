"""`jd-helix serve`: the old app's reports as a read-only, authenticated HTTP API.

It never reads the warehouse file that runs write: it serves a snapshot of it (see
`replica.py`), so it answers while a run holds DuckDB's single-writer lock.
"""
