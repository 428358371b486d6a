"""What a person sees: after one run over 3 hours, the real Dagster UI, opened in headless
Chromium, shows on `jd_transactions`' page each hour's own row count (DuckDB's figure for
that hour, not the run's total) and that hour's checks as passed; and the README's first
steps work as written, with the UI's own words (no pop-up over the first page).

A persistent DAGSTER_HOME with the shipped dagster.yaml; the run is `dagster job execute`
over a partition range, as the issue reproduced it; the UI is `dagster-webserver` on that
home. Chromium is Debian's (`.ci/run` installs it), driven by Playwright, which never
downloads a browser of its own.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest
import requests
from playwright.sync_api import Locator, Page, sync_playwright

from jd_helix.lib.partitions import partition_key, partition_range_tags
from jd_helix.sandbox import Sandbox, SandboxConfig
from jd_helix_tests.e2e.harness import naive, query, refresh_dimensions, resources_for
from jd_helix_tests.recovery.deployment import (
    LOCATION_STATUS,
    PROJECT_ROOT,
    api_environment,
    free_port,
    new_dagster_home,
    real_hour,
    wait_for,
)

CHROMIUM = "/usr/bin/chromium"
# Hours by the wall clock: the webserver's partitions follow it, not the test clock.
HOURS = [real_hour(5), real_hour(4), real_hour(3)]
SHOWN = HOURS[1]
# A fixed volume (never the clock's), oddities on: hours differ by their rejects.
CONFIG = SandboxConfig(
    seed=11,
    stores=3,
    pos_per_store=2,
    items=20,
    fixed_sales_per_hour=25,
    rate_limit_per_5s=None,
    rate_limit_per_minute=None,
    batch_delay_s=0.02,
    now=real_hour(0),
)
CHECKS = ["valid_transactions"]  # one check holds the three rules of a sound hour


@pytest.fixture(scope="module")
def ui(tmp_path_factory):
    """The UI's address and the warehouse, once the 3-hour run has finished."""
    root = tmp_path_factory.mktemp("ui")
    home, database = new_dagster_home(root), str(root / "jd_helix.duckdb")
    with Sandbox.running(CONFIG, port=0) as sandbox:
        env = {
            **os.environ,
            **api_environment(sandbox),
            "JD_HELIX_DUCKDB_PATH": database,
            "DAGSTER_HOME": str(home),
            "PYTHONPATH": str(PROJECT_ROOT),
        }
        port = free_port()
        # The instance's tables are created here, once: the webserver and `dagster job execute`
        # both creating them on the fresh home at the same moment raced ("table alembic_version
        # already exists").
        # The reference data is refreshed in this instance, as `make run` does first: the
        # UI then asks no "Are you sure?" about upstream assets never materialized.
        with dg.DagsterInstance.from_config(str(home)) as instance:
            assert refresh_dimensions(resources_for(sandbox, database), instance=instance).success
        # Started first: it loads the code location while the run works.
        with open(root / "webserver.log", "wb") as log:  # the child keeps its own descriptor
            webserver = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "dagster_webserver",
                    "-w",
                    str(PROJECT_ROOT / "workspace.yaml"),
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(port),
                ],
                cwd=home,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            tags = partition_range_tags(partition_key(HOURS[0]), partition_key(HOURS[-1]))
            ran = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "dagster",
                    "job",
                    "execute",
                    "-m",
                    "jd_helix.definitions",
                    "-j",
                    "hourly_sales_job",
                    "--tags",
                    json.dumps(tags),
                ],
                cwd=PROJECT_ROOT,
                env=env,
                capture_output=True,
                text=True,
                timeout=180,
            )
            assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
            wait_for("the code location to load in the webserver", lambda: _loaded(port, webserver, root), 120)
            yield f"http://127.0.0.1:{port}", database
        finally:
            # Nothing to keep: the run has ended and the webserver only reads.
            os.killpg(webserver.pid, signal.SIGKILL)
            webserver.wait()


def _loaded(port: int, webserver: subprocess.Popen, root: Path) -> bool:
    """The code location is loaded (before that an asset's page shows only its events)."""
    if webserver.poll() is not None:
        raise AssertionError((root / "webserver.log").read_text()[-3000:])
    try:
        answer = requests.post(f"http://127.0.0.1:{port}/graphql", json={"query": LOCATION_STATUS}, timeout=5).json()
    except (requests.RequestException, ValueError):
        return False
    entries = answer["data"]["workspaceOrError"].get("locationEntries", [])
    return any(
        e["locationOrLoadError"]["__typename"] == "RepositoryLocation" for e in entries if e["loadStatus"] == "LOADED"
    )


@pytest.fixture(scope="module")
def page(ui):
    assert Path(CHROMIUM).exists(), f"no {CHROMIUM}: apt-get install --no-install-recommends chromium (.ci/run does)"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        page = browser.new_page(viewport={"width": 1600, "height": 1200}, locale="en-US", timezone_id="UTC")
        # Waits for the UI to render, not a limit on it: a loaded 2-core machine takes its time.
        page.set_default_timeout(60_000)
        yield page
        browser.close()


def panel(page: Page, title: str, hour: str) -> Locator:
    """The detail panel of one hour: the innermost block holding both its title and the hour."""
    return (
        page.locator("div")
        .filter(has=page.get_by_text(title, exact=True))
        .filter(has=page.get_by_text(hour, exact=True))
        .last
    )


def metadata_value(scope: Locator, label: str) -> str:
    """The value cell beside `label` in a metadata table."""
    row = scope.locator("tr").filter(has=scope.page.get_by_text(label, exact=True))
    return row.locator("td").nth(1).inner_text().strip()


def rows_of(database: str, hour) -> int:
    return query(database, "SELECT count(*) FROM jd_transactions WHERE sale_hour = ?", [naive(hour)])[0][0]


def test_an_hour_shows_its_own_row_count(ui, page):
    url, database = ui
    hour = partition_key(SHOWN)
    page.goto(f"{url}/assets/jd_transactions?view=partitions&partition={hour}")

    hour_panel = panel(page, "Latest materialization", hour)
    hour_panel.get_by_text("dagster/row_count", exact=True).wait_for()
    shown = metadata_value(hour_panel, "dagster/row_count")

    assert shown == str(rows_of(database, SHOWN))
    assert shown != str(query(database, "SELECT count(*) FROM jd_transactions")[0][0]), "the run's total"
    assert metadata_value(hour_panel, "window_start") == SHOWN.strftime("%b %-d, %-I:%M:%S %p UTC")
    # Figures of the run as a whole say so in their name, and come after the hour's own.
    assert metadata_value(hour_panel, "run/hours") == str(len(HOURS))
    labels = [label.strip() for label in hour_panel.locator("tr td:first-child").all_inner_texts()]
    assert labels[0] == "window_start", labels
    assert max(labels.index(name) for name in ("dagster/row_count", "records_received", "rejected")) < min(
        i for i, label in enumerate(labels) if label.startswith("run/")
    ), labels


def test_an_hour_shows_its_own_checks_passed(ui, page):
    url, database = ui
    hour = partition_key(SHOWN)
    page.goto(f"{url}/assets/jd_transactions?view=checks")
    for check in CHECKS:
        page.get_by_text(check, exact=True).first.click()
        page.locator("button[role=tab]#partitions").click()
        # Every hour of the run has its own result, and each passed.
        page.get_by_text(f"Passed ({len(HOURS)})", exact=True).wait_for()
        page.get_by_text(hour, exact=True).first.click()

        hour_panel = panel(page, "Latest execution", hour)
        hour_panel.get_by_text("Passed", exact=True).wait_for()
        if check == "valid_transactions":
            assert metadata_value(hour_panel, "rows") == str(rows_of(database, SHOWN))


README = (PROJECT_ROOT / "README.md").read_text()
FIRST_STEPS = README[README.index("## First steps in the UI") : README.index("From then on, `hourly_sales_schedule`")]


def says(*words: str) -> None:
    """The README's first steps use these words of the UI, in bold, as the UI shows them."""
    for word in words:
        assert f"**{word}**" in FIRST_STEPS, word


def test_the_first_page_has_no_community_pop_up(ui, page):
    url, _ = ui
    page.goto(url)
    page.get_by_role("link", name="Catalog").first.wait_for()
    page.wait_for_timeout(3000)  # Dagster shows its pop-up a second after the page
    assert page.get_by_text("Join the Dagster community").count() == 0


def test_readme_step_1_runs_show_their_hours_and_the_lineage_reads_forwards(ui, page):
    url, _ = ui
    says("Runs", "Catalog", "View lineage")
    page.goto(url)
    page.get_by_role("link", name="Runs").first.click()
    hours = f"{partition_key(HOURS[0])} .. {partition_key(HOURS[-1])} (3 hours)"
    first_tag = page.get_by_text("jd_helix/hours:").first
    assert hours in first_tag.inner_text()
    assert "run_worker" not in page.locator("body").inner_text()
    assert "`jd_helix/hours`" in FIRST_STEPS

    page.get_by_role("link", name="Catalog").first.click()
    page.get_by_role("link", name="View lineage").click()
    for group in ("reference_data", "hourly_sales", "reports", "rejected_records"):
        page.get_by_role("button", name=group).first.wait_for()
        assert f"`{group}`" in FIRST_STEPS, group


def test_readme_step_2_dimensions_job_materializes_the_reference_data_group(ui, page):
    url, _ = ui
    says("Jobs", "Materialize all")
    page.goto(url)
    page.get_by_role("link", name="Jobs").first.click()
    page.get_by_role("link", name="dimensions_job").first.click()
    page.get_by_role("button", name="Materialize all").wait_for()
    page.get_by_role("button", name="View 6 assets").wait_for()  # the six of the reference_data group


def test_readme_step_3_one_hour_is_one_run_and_a_range_a_backfill(ui, page):
    url, _ = ui
    says("Catalog", "Materialize selected", "Partition selection", "Latest", "Launch 1 run", "Launch backfill")
    page.goto(url)
    page.get_by_role("link", name="Catalog").first.click()
    for name in ("jd_transactions", "transaction_camera_events", "helix_events", "store_sales"):
        assert f"`{name}`" in FIRST_STEPS, name
        page.locator(f"label:has([data-testid='checkbox-{name}'])").click()
    page.get_by_role("button", name="Materialize selected").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_text("Partition selection", exact=True).wait_for()
    dialog.get_by_role("button", name="Latest", exact=True).click()
    dialog.get_by_role("button", name="Launch 1 run").wait_for()
    box = dialog.locator("input[type=text]").first
    box.fill(f"[{partition_key(HOURS[0])}...{partition_key(HOURS[-1])}]")
    box.press("Enter")
    dialog.get_by_role("button", name="Launch backfill").wait_for()
    dialog.get_by_role("button", name="Cancel", exact=True).click()


def test_readme_step_4_the_deadline_check_has_one_result_per_hour_and_none_skipped(ui, page):
    url, _ = ui
    says("Partitions", "Checks")
    page.goto(f"{url}/assets/helix_events?view=checks")
    page.get_by_text("last_hour_posted_by_deadline", exact=True).first.click()
    page.locator("button[role=tab]#partitions").click()
    page.get_by_text(f"Passed ({len(HOURS)})", exact=True).wait_for()
    page.get_by_text("Skipped (0)", exact=True).wait_for()
