"""Catching up hours that fall behind: when an hour of an upstream hourly asset is
materialized on its own (a click on one asset, a re-run of one step), the same hour of
each asset downstream is run next, by declarative automation (`hourly_catch_up_sensor`).

Only the hourly chain counts as "upstream updated": the hourly refresh of the reference
data must not re-run every hour. Hours whose blocking checks failed stay held back, and
hours older than Helix's 30 days are left alone (Helix would refuse them anyway).
"""

import dagster as dg

from jd_helix.clients.verkada.limits import HELIX_MAX_EVENT_AGE

HOURLY_CHAIN = ["jd_transactions", "transaction_camera_events", "helix_events"]
CATCH_UP_WINDOW = HELIX_MAX_EVENT_AGE


def catch_up_condition() -> dg.AutomationCondition:
    hourly_deps_updated = dg.AutomationCondition.any_deps_match(
        dg.AutomationCondition.newly_updated() | dg.AutomationCondition.will_be_requested()
    ).allow(dg.AssetSelection.assets(*HOURLY_CHAIN))
    return (
        dg.AutomationCondition.in_latest_time_window(CATCH_UP_WINDOW)
        & hourly_deps_updated.with_label("an upstream hour was updated").since_last_handled()
        & ~dg.AutomationCondition.any_deps_missing()
        & ~dg.AutomationCondition.any_deps_in_progress()
        & ~dg.AutomationCondition.in_progress()
        & dg.AutomationCondition.all_deps_blocking_checks_passed()
    ).with_label("catch up behind upstream")
