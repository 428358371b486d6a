"""Dagster's Beta/Preview notices for the features this project uses on purpose, silenced.

Imported by the package itself (jd_helix/__init__.py), so definitions.py, the code server,
every run's process and any module imported on its own install these filters before any
asset is defined. Each filter names one exact message of the pinned dagster (pyproject.toml):
a notice about anything else still shows. The categories come from dagster_shared, which
loads in milliseconds (the sandbox imports this package too).
"""

import warnings

from dagster_shared.utils.warnings import BetaWarning, PreviewWarning

DELIBERATE = [
    # Many hours per run (the backfill speed of issue 5).
    (BetaWarning, r"Parameter `backfill_policy` of function `asset` is currently in beta"),
    # A check result per hour in the UI.
    (PreviewWarning, r"Specifying a partitions_def on an AssetCheckSpec is currently in preview"),
    # Links from each asset to its source.
    (BetaWarning, r"Function `with_source_code_references` is currently in beta"),
    (BetaWarning, r"Class `LocalFileCodeReference` is currently in beta"),
    (BetaWarning, r"Class `CodeReferencesMetadataValue` is currently in beta"),
    # The definitions under jd_helix/defs/, loaded by domain folder (definitions.py).
    (PreviewWarning, r"Function `load_definitions_from_package_module` is currently in preview"),
    (PreviewWarning, r"Function `load_definitions_from_modules` is currently in preview"),
]

for category, message in DELIBERATE:
    warnings.filterwarnings("ignore", message=message, category=category)
