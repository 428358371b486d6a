"""`jd-helix backup` and `jd-helix restore` against real runs on the sandbox.

- a backup waits for a pause in the runs' writes and is a whole warehouse; retention keeps the
  newest; a backup refused for lack of a pause says so and leaves nothing behind;
- restoring an older backup and running the next hours leaves every sale in Helix exactly once
  (what Helix holds, and every write it accepted), as the chaos suite's comparison checks it;
- a restore refuses while a process has the warehouse open, and refuses a file that is not a
  jd_helix warehouse, moving nothing.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from jd_helix.cli.main import main
from jd_helix.resources.warehouse_backups import list_backups
from jd_helix.sandbox import Sandbox, SandboxConfig
from jd_helix_tests.chaos.harness import check_against_truth
from jd_helix_tests.e2e.harness import query, recent_hours, refresh_dimensions, resources_for, run_hours

SALES_PER_HOUR = 30
CONFIG = SandboxConfig(
    seed=25,
    stores=3,
    pos_per_store=2,
    items=20,
    clean=True,
    fixed_sales_per_hour=SALES_PER_HOUR,
    rate_limit_per_5s=None,
    rate_limit_per_minute=None,
    batch_delay_s=0.02,
)
HOURS = recent_hours(5)
BEFORE_BACKUP, AFTER_BACKUP = HOURS[:2], HOURS[2:4]

HOLD_WRITE_LOCK = """
import sys, time, duckdb
conn = duckdb.connect(sys.argv[1])
conn.execute("CREATE TABLE IF NOT EXISTS held (held_at DOUBLE)")
conn.execute("INSERT INTO held VALUES (?)", [time.time()])
print("holding", flush=True)
time.sleep(float(sys.argv[2]))
conn.close()
"""


def hold_write_lock(database: Path, seconds: float) -> subprocess.Popen:
    """Another process writing the warehouse for `seconds`, as a run's write does."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_WRITE_LOCK, str(database), str(seconds)], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
    return holder


def cli(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.fixture
def warehouse(tmp_path):
    database = tmp_path / "data" / "jd_helix.duckdb"
    with Sandbox.running(CONFIG, port=0) as sandbox:
        resources = resources_for(sandbox, str(database))
        assert refresh_dimensions(resources).success
        assert run_hours(resources, BEFORE_BACKUP[0], BEFORE_BACKUP[-1]).success
        yield sandbox, resources, database


def test_a_backup_waits_for_a_pause_in_the_writes_and_keeps_the_newest(warehouse, tmp_path):
    _, _, database = warehouse
    backups = tmp_path / "backups"
    holder = hold_write_lock(database, 2.0)
    try:
        started = time.monotonic()
        result = cli("backup", "--database", str(database), "--to", str(backups), "--wait", "60")
        waited = time.monotonic() - started
    finally:
        holder.wait(timeout=30)
    assert result.exit_code == 0, result.output
    assert waited >= 1.0, "the copy waited for the writer to let go"
    [backup] = list_backups(backups)
    assert f"backed up {database} to {backup}" in result.output
    # A whole warehouse, with the writer's last commit in it, and nothing half-written beside it.
    assert query(str(backup), "SELECT count(*) FROM held") == [(1,)]
    assert query(str(backup), "SELECT count(*) FROM helix_events") == query(
        str(database), "SELECT count(*) FROM helix_events"
    )
    assert query(str(backup), "SELECT count(*) FROM helix_events")[0][0] == SALES_PER_HOUR * len(BEFORE_BACKUP)
    assert sorted(p.name for p in backups.iterdir()) == [backup.name]

    for _ in range(2):
        time.sleep(1.1)  # backups are named by the second
        assert cli("backup", "--database", str(database), "--to", str(backups), "--keep", "2").exit_code == 0
    kept = list_backups(backups)
    assert len(kept) == 2 and backup not in kept, "the oldest went, the two newest stay"

    holder = hold_write_lock(database, 5.0)
    try:
        refused = CliRunner().invoke(main, ["backup", "--database", str(database), "--to", str(backups), "--wait", "0"])
    finally:
        holder.wait(timeout=30)
    assert refused.exit_code == 1 and "without a pause" in refused.output, refused.output
    assert list_backups(backups) == kept and sorted(p.name for p in backups.iterdir()) == sorted(p.name for p in kept)


def test_an_older_backup_restored_then_the_next_hours_run_posts_each_sale_once(warehouse, tmp_path):
    sandbox, resources, database = warehouse
    backups = tmp_path / "backups"
    assert cli("backup", "--database", str(database), "--to", str(backups)).exit_code == 0
    [backup] = list_backups(backups)
    # Life goes on after the backup: two more hours reach Helix, then the warehouse is lost.
    assert run_hours(resources, AFTER_BACKUP[0], AFTER_BACKUP[-1]).success
    posted_after_backup = {
        tid
        for (tid,) in query(
            str(database),
            "SELECT transaction_id FROM helix_events WHERE status = 'posted' AND sale_hour >= ?",
            [AFTER_BACKUP[0].replace(tzinfo=None)],
        )
    }
    assert len(posted_after_backup) == SALES_PER_HOUR * len(AFTER_BACKUP)
    database.write_bytes(b"lost")  # what a broken disk leaves

    result = cli("restore", "--latest-in", str(backups), "--database", str(database))
    assert result.exit_code == 0, result.output
    assert f"restored {backup} to {database}" in result.output
    assert f"from {BEFORE_BACKUP[-1]:%Y-%m-%d-%H:00} UTC" in result.output, "the hours to run again"
    [aside] = database.parent.glob("jd_helix.duckdb.before-restore-*")
    assert aside.read_bytes() == b"lost", "the replaced file is kept, not deleted"
    assert query(
        str(database), "SELECT count(*) FROM helix_events WHERE sale_hour >= ?", [AFTER_BACKUP[0].replace(tzinfo=None)]
    ) == [(0,)]

    # The next hours: from the backup's last hour to the newest, as the restore says.
    assert run_hours(resources, BEFORE_BACKUP[-1], HOURS[-1]).success
    counts = check_against_truth(sandbox, str(database), HOURS)
    assert counts["valid_sales"] == SALES_PER_HOUR * len(HOURS)
    assert counts["ledger_pending"] == counts["ledger_failed"] == 0
    # Every write Helix accepted: each sale under one event (triple) only; the sales the restored
    # ledger forgot were sent again to the same event, which Helix replaced rather than doubled.
    triples = defaultdict(set)
    writes = defaultdict(int)
    for write in sandbox.helix_writes():
        tid = write["attributes"]["transaction_id"]
        triples[tid].add((write["camera_id"], write["time_ms"]))
        writes[tid] += 1
    assert all(len(t) == 1 for t in triples.values()), {tid: t for tid, t in triples.items() if len(t) > 1}
    assert {tid for tid, n in writes.items() if n > 1} <= posted_after_backup


def test_a_restore_refuses_a_warehouse_in_use_and_a_file_that_is_no_warehouse(warehouse, tmp_path):
    _, _, database = warehouse
    backups = tmp_path / "backups"
    assert cli("backup", "--database", str(database), "--to", str(backups)).exit_code == 0
    [backup] = list_backups(backups)
    ledger = query(str(database), "SELECT * FROM helix_events ORDER BY transaction_id")

    holder = hold_write_lock(database, 3.0)
    try:
        in_use = CliRunner().invoke(main, ["restore", str(backup), "--database", str(database)])
    finally:
        holder.wait(timeout=30)
    assert in_use.exit_code == 1 and "is in use" in in_use.output and "Stop the code location" in in_use.output
    assert not list(database.parent.glob("*.before-restore-*"))

    stranger = tmp_path / "other.duckdb"
    with duckdb.connect(str(stranger)) as conn:
        conn.execute("CREATE TABLE t (x INT)")
    refused = CliRunner().invoke(main, ["restore", str(stranger), "--database", str(database)])
    assert refused.exit_code == 1 and "is not a jd_helix warehouse" in refused.output, refused.output
    # Nothing moved: the warehouse in place is the one that was there (with the writer's commit).
    assert not list(database.parent.glob("*.before-restore-*"))
    assert query(str(database), "SELECT * FROM helix_events ORDER BY transaction_id") == ledger
    assert query(str(database), "SELECT count(*) FROM held") == [(1,)]
