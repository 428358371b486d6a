"""Hours that fall behind their upstream hour are caught up; hours held back by a failed
blocking check are not. Evaluated with Dagster's own automation machinery on a test instance."""

import dagster as dg
import pytest

from jd_helix.definitions import defs
from jd_helix.lib.catch_up import HOURLY_CHAIN
from jd_helix.lib.hourly_check_results import latest_materializations
from jd_helix.lib.partitions import partition_key
from jd_helix_tests import clock

# The clock guard runs these at far instants too (test_same_verdict_at_far_instants.py).
pytestmark = pytest.mark.time_sensitive

DOWNSTREAM = ["transaction_camera_events", "helix_events", "store_sales"]
REFERENCE = ["jd_stores", "jd_points_of_sale", "jd_cameras", "jd_items", "verkada_cameras", "helix_event_type"]
PASSED_HOUR, FAILED_HOUR = partition_key(clock.hours_ago(3)), partition_key(clock.hours_ago(4))


def requested(result) -> dict[str, set[str]]:
    return {
        key.to_user_string(): set(result.get_requested_partitions(key))
        for key in (dg.AssetKey(a) for a in DOWNSTREAM)
        if result.get_num_requested(key)
    }


def test_downstream_hours_follow_an_hour_materialized_alone_unless_its_blocking_check_failed():
    with dg.instance_for_test() as instance:
        for asset in REFERENCE:
            instance.report_runless_asset_event(dg.AssetMaterialization(asset))
        first = dg.evaluate_automation_conditions(defs=defs, instance=instance)
        assert requested(first) == {}, "nothing fell behind yet"

        # Only jd_transactions (and its checks) ran for two hours; one fails a blocking check.
        for key in (PASSED_HOUR, FAILED_HOUR):
            instance.report_runless_asset_event(dg.AssetMaterialization("jd_transactions", partition=key))
            # As the checks record it: against the hour's latest materialization.
            [target] = latest_materializations(instance, dg.AssetKey("jd_transactions"), [key]).values()
            instance.report_runless_asset_event(
                dg.AssetCheckEvaluation(
                    asset_key=dg.AssetKey("jd_transactions"),
                    check_name="valid_transactions",
                    passed=key != FAILED_HOUR,
                    blocking=True,
                    partition=key,
                    target_materialization_data=target,
                )
            )
        second = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=first.cursor)
        assert requested(second) == {asset: {PASSED_HOUR} for asset in DOWNSTREAM}

        # A refresh of the reference data does not re-run any hour.
        for asset in REFERENCE:
            instance.report_runless_asset_event(dg.AssetMaterialization(asset))
        for asset in DOWNSTREAM:
            instance.report_runless_asset_event(dg.AssetMaterialization(asset, partition=PASSED_HOUR))
        third = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=second.cursor)
        assert requested(third) == {}
    assert ["jd_transactions", *DOWNSTREAM[:2]] == HOURLY_CHAIN
