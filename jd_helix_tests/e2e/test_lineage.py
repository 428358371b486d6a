"""The tables each asset writes are the ones its lineage says: helix_events posts under the
event type of the Helix it posts to but leaves the helix_event_type table to its own asset."""

from jd_helix.sandbox import Sandbox, SandboxConfig
from jd_helix_tests.e2e.harness import query, recent_hours, refresh_dimensions, resources_for, run_hour

# clean: every till maps to one Verkada camera, so the hour's sales are posted whichever hour
# the clock picks (with the world's quirks, 3 of these 4 tills are unmapped and the fourth
# sold nothing in some hours: nothing was posted, and no event type was written to look at).
CONFIG = SandboxConfig(
    seed=9,
    stores=2,
    pos_per_store=2,
    items=10,
    fixed_sales_per_hour=20,
    clean=True,
    rate_limit_per_5s=None,
    rate_limit_per_minute=None,
)


def test_helix_events_leaves_the_event_type_table_to_its_own_asset(tmp_path):
    database = str(tmp_path / "lineage.duckdb")
    with Sandbox.running(CONFIG, port=0) as sandbox:
        resources = resources_for(sandbox, database)
        assert refresh_dimensions(resources).success
        recorded = query(database, "SELECT * FROM helix_event_type")
        assert len(recorded) == 1
        assert run_hour(resources, recent_hours(1)[0]).success
        assert query(database, "SELECT * FROM helix_event_type") == recorded  # checked_at unchanged
        uids = query(database, "SELECT DISTINCT event_type_uid FROM helix_events WHERE event_type_uid IS NOT NULL")
        assert uids == [(recorded[0][0],)]
