"""Whether the Dagster daemon is alive, from outside it: the heartbeats each of its loops
writes into the instance (what the UI's Deployment -> Daemons page shows).

The failure alerts are sensors, which the daemon runs: when the daemon stops, they stop
too. `jd-helix check-daemon` (cli/check_daemon.py), called by a platform probe or cron,
reads the heartbeats and posts to the alert webhook itself.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import dagster as dg


@dataclass(frozen=True)
class DaemonBeat:
    daemon_type: str
    age_s: float | None  # None: it never reported to this instance

    def describe(self) -> str:
        if self.age_s is None:
            return f"{self.daemon_type} never reported"
        return f"{self.daemon_type} last reported {self.age_s / 60:.1f} min ago"


def daemon_beats(instance: dg.DagsterInstance, now: float | None = None) -> list[DaemonBeat]:
    """The age of the last heartbeat of every daemon loop this instance needs."""
    now = time.time() if now is None else now
    heartbeats = instance.get_daemon_heartbeats()
    return [
        DaemonBeat(daemon_type, now - heartbeats[daemon_type].timestamp if daemon_type in heartbeats else None)
        for daemon_type in sorted(instance.get_required_daemon_types())
    ]


def silent_daemons(beats: list[DaemonBeat], max_age_s: float) -> list[DaemonBeat]:
    return [beat for beat in beats if beat.age_s is None or beat.age_s > max_age_s]
