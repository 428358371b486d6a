"""Dagster concurrency pools, kept moving when a run worker dies.

A step waits for a pool slot without spinning (`waiting.py`), and while it waits it looks
at who holds the slot: a holder that has ended or whose process is gone is released
(`holders.py`); one it cannot check is named once, with the command that frees it.
Every run worker records who it is (`worker.py`) so that the check is possible.
"""
