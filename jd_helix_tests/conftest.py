"""Shared fixtures: the built-in sandbox on a free loopback port, over real HTTP."""

from __future__ import annotations

import contextlib
from datetime import datetime, timezone
from typing import Any, Callable, Iterator

import pytest

from jd_helix.sandbox import Sandbox, SandboxConfig

# A small world with no rate limits: fast to start, easy to reason about.
TEST_SANDBOX_DEFAULTS: dict[str, Any] = dict(
    seed=7,
    stores=4,
    pos_per_store=2,
    items=30,
    sales_per_hour=60,
    rate_limit_per_5s=None,
    rate_limit_per_minute=None,
    batch_delay_s=0.02,
)
# A fixed clock a little after the hours tests usually read, so events of those hours are
# inside Helix's 30-day window.
TEST_NOW = datetime(2024, 3, 5, 12, 0, tzinfo=timezone.utc)


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
