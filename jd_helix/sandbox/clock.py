"""The sandbox's clock: the real one, or an instant fixed by a test (`Sandbox.set_now`).

Verkada's rules about event age and token lifetime read it, so a test can place "now"
where its data is.
"""

from __future__ import annotations

from datetime import UTC, datetime


class SandboxClock:
    def __init__(self, fixed: datetime | None = None):
        self._fixed: datetime | None = None
        self.set(fixed)

    @property
    def is_fixed(self) -> bool:
        return self._fixed is not None

    def now(self) -> datetime:
        return self._fixed if self._fixed is not None else datetime.now(UTC)

    def set(self, fixed: datetime | None) -> None:
        """Fix the clock at an aware datetime, or None to follow the real clock."""
        if fixed is not None and fixed.tzinfo is None:
            raise ValueError("set_now needs an aware datetime")
        self._fixed = fixed
