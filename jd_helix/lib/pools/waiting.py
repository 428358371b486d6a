"""Waiting for a pool slot: asleep, and with an eye on who holds it.

Dagster 1.13's InstanceConcurrencyContext.interval_to_next_pending_claim_check returns
min(0, ...), never more than 0, so the in-process executor's loop never sleeps while a step
is blocked: each waiting run burns a whole core (dagster-io/dagster#20367 proposed the fix
and was closed). Here the loop sleeps until the next claim is due.

While a step waits, the holders of its pool are looked at every HOLDER_CHECK_S seconds:
a run that has ended, or whose worker process is gone from this machine, is failed and its
slots freed at once; a holder this process cannot check is named once, with the command
that frees it, instead of a silent wait.
"""

from __future__ import annotations

import time

from dagster._core.execution.plan.instance_concurrency_context import InstanceConcurrencyContext

from jd_helix.lib.pools import holders as pool_holders
from jd_helix.lib.pools.worker import Liveness

HOLDER_CHECK_S = 5.0


class PoolWaitContext(InstanceConcurrencyContext):
    def __init__(self, instance, dagster_run, log):
        super().__init__(instance, dagster_run)
        self._log = log
        self._holders_checked_at: dict[str, float] = {}
        self._named: set[tuple[str, str]] = set()

    def interval_to_next_pending_claim_check(self) -> float:
        if not self._pending_claims:
            return 0.0
        due = min(self._pending_timeouts.get(step_key, 0.0) for step_key in self._pending_claims)
        return max(0.0, due - time.time())

    def claim(self, concurrency_key: str, step_key: str, step_priority: int = 0) -> bool:
        asked_before = self._pending_claim_counts[step_key]
        claimed = super().claim(concurrency_key, step_key, step_priority)
        refused_now = not claimed and self._pending_claim_counts[step_key] > asked_before
        if refused_now and time.time() - self._holders_checked_at.get(concurrency_key, 0.0) >= HOLDER_CHECK_S:
            self._holders_checked_at[concurrency_key] = time.time()
            if self._release_dead_holders(concurrency_key, step_key):
                self._pending_timeouts[step_key] = 0.0  # ask again right away
        return claimed

    def _release_dead_holders(self, pool: str, step_key: str) -> bool:
        released = False
        for holder in pool_holders.holders(self._instance, pool, exclude_run_id=self._run_id):
            if holder.releasable:
                why = f"No longer running ({holder.describe()}): slots freed by run {self._run_id}, waiting for pool {pool}."
                pool_holders.release(self._instance, holder, why)
                self._log.warning(f"Freed the {pool} slots of {holder.describe()}: it is no longer running.")
                released = True
            elif holder.liveness == Liveness.UNKNOWN and (pool, holder.run_id) not in self._named:
                self._named.add((pool, holder.run_id))
                self._log.warning(pool_holders.cannot_check_message(self._instance, pool, step_key, holder))
        return released
