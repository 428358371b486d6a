"""Clients of the two outside APIs (JD retail, Verkada) and the parsers of what they send.

Plain Python, no Dagster: the Dagster resources in ``jd_helix.resources`` build these
clients from their settings.
"""
