"""Shared fixtures: the built-in sandbox on a free loopback port, over real HTTP."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from jd_helix.sandbox import Sandbox, SandboxConfig
from jd_helix_tests.clock import TEST_NOW_VARIABLE, follow_test_clock
from jd_helix_tests.lanes import mark_lanes
from jd_helix_tests.parallel import UnitScheduling, order_units

# A small world with no rate limits: fast to start, easy to reason about.
TEST_SANDBOX_DEFAULTS: dict[str, Any] = {
    "seed": 7,
    "stores": 4,
    "pos_per_store": 2,
    "items": 30,
    "sales_per_hour": 60,
    "rate_limit_per_5s": None,
    "rate_limit_per_minute": None,
    "batch_delay_s": 0.02,
}
# A fixed clock a little after the hours tests usually read, so events of those hours are
# inside Helix's 30-day window.
TEST_NOW = datetime(2024, 3, 5, 12, 0, tzinfo=UTC)


def pytest_configure(config: pytest.Config) -> None:
    # Before collection: module-level hours ("recent_hours(3)") already follow the chosen clock.
    follow_test_clock()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    mark_lanes(items)
    if hasattr(config, "workerinput"):  # a pytest-xdist worker (make test)
        order_units(items)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log):
    """`make test`'s scopes are the units of jd_helix_tests/parallel.py."""
    return UnitScheduling(config, log) if config.getvalue("dist") == "loadscope" else None


def pytest_report_header(config: pytest.Config) -> str:
    now = datetime.now(UTC)
    source = TEST_NOW_VARIABLE if os.environ.get(TEST_NOW_VARIABLE) else "the real clock"
    return f"test clock: {now:%A %Y-%m-%d %H:%M} UTC ({source})"


@pytest.fixture
def make_sandbox() -> Iterator[Callable[..., Sandbox]]:
    """Factory: make_sandbox(**config_overrides) starts a sandbox that stops after the test."""
    with contextlib.ExitStack() as stack:

        def make(**overrides: Any) -> Sandbox:
            cfg = SandboxConfig(**{**TEST_SANDBOX_DEFAULTS, "now": TEST_NOW, **overrides})
            return stack.enter_context(Sandbox.running(cfg, port=0))

        yield make


@pytest.fixture
def sandbox(make_sandbox: Callable[..., Sandbox]) -> Sandbox:
    return make_sandbox()


@pytest.fixture(scope="session")
def wheel_python(tmp_path_factory, request) -> Iterator[Future[Path]]:
    """The python of a venv holding the project's wheel (non-editable, jd_helix_tests/wheel.py),
    built once per session in the background while a test sets up the rest."""
    from jd_helix_tests.wheel import shared_wheel_python

    base = tmp_path_factory.getbasetemp()
    # Under pytest-xdist each worker's basetemp lies in the run's own: the workers share one wheel.
    session_dir = base.parent if hasattr(request.config, "workerinput") else base
    with ThreadPoolExecutor(max_workers=1) as pool:
        yield pool.submit(shared_wheel_python, session_dir)
