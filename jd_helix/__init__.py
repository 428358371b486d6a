# First of all: quiet Dagster's notices for the features used on purpose (see the module).
from jd_helix.lib import dagster_warnings  # noqa: F401
