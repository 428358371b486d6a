"""Run tags the project sets, so that the run list says what a run covers and why it exists."""

# The hours of a ranged run, e.g. "2026-12-07-00:00 .. 2026-12-07-02:00 (3 hours)": Dagster's
# own range tags are system tags, which the run list does not show.
HOURS_TAG = "jd_helix/hours"

# Set by hour_recovery_sensor on the runs it launches: the failed run the hours come after,
# and its error (what made them late); helix_events shows it as `run/late_because`.
LATE_BECAUSE_TAG = "jd_helix/late_because"
# How many runs of those hours have failed in a row before this one, plus one.
RECOVERY_ATTEMPT_TAG = "jd_helix/recovery_attempt"
