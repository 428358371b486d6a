"""Dagster's Beta/Preview notices for the features this project uses on purpose, silenced.

Imported first by definitions.py, so the code server, the daemon's and every run's process
install these filters before any asset is defined. Each filter names one exact message of
the pinned dagster (pyproject.toml): a notice about anything else still shows.
"""

import warnings

import dagster as dg

DELIBERATE = [
    # Many hours per run (the backfill speed of issue 5).
    (dg.BetaWarning, r"Parameter `backfill_policy` of function `asset` is currently in beta"),
    # A check result per hour in the UI.
    (dg.PreviewWarning, r"Specifying a partitions_def on an AssetCheckSpec is currently in preview"),
    # Links from each asset to its source.
    (dg.BetaWarning, r"Function `with_source_code_references` is currently in beta"),
    (dg.BetaWarning, r"Class `LocalFileCodeReference` is currently in beta"),
    (dg.BetaWarning, r"Class `CodeReferencesMetadataValue` is currently in beta"),
]

for category, message in DELIBERATE:
    warnings.filterwarnings("ignore", message=message, category=category)
