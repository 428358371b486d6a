"""The Verkada organisation's rate limit, as the sandbox enforces it (docs/verkada-helix-api.md, "Decisions").

Sliding windows over *accepted* requests: at most `per_5s` in any 5 s and `per_minute`
in any 60 s. A request over either limit is refused with 429 and starts a cooldown
(default 5 s) during which every request is refused too. Refused requests do not count
towards the windows. Every other 429 carries `Retry-After: 5`; the others carry none.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable


class RateLimiter:
    def __init__(
        self,
        per_5s: int | None,
        per_minute: int | None,
        cooldown_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.per_5s = per_5s
        self.per_minute = per_minute
        self.cooldown_s = cooldown_s
        self.clock = clock
        self._accepted_5s: deque[float] = deque()
        self._accepted_60s: deque[float] = deque()
        self._cooldown_until = 0.0
        self._refusals = 0
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.per_5s is not None or self.per_minute is not None

    def check(self) -> tuple[bool, bool]:
        """(allowed, send_retry_after). Records the request when allowed."""
        if not self.enabled:
            return True, False
        with self._lock:
            now = self.clock()
            while self._accepted_5s and self._accepted_5s[0] <= now - 5.0:
                self._accepted_5s.popleft()
            while self._accepted_60s and self._accepted_60s[0] <= now - 60.0:
                self._accepted_60s.popleft()
            over = (
                now < self._cooldown_until
                or (self.per_5s is not None and len(self._accepted_5s) >= self.per_5s)
                or (self.per_minute is not None and len(self._accepted_60s) >= self.per_minute)
            )
            if over:
                if now >= self._cooldown_until:
                    self._cooldown_until = now + self.cooldown_s
                self._refusals += 1
                return False, self._refusals % 2 == 1
            self._accepted_5s.append(now)
            self._accepted_60s.append(now)
            return True, False

    def reset(self) -> None:
        with self._lock:
            self._accepted_5s.clear()
            self._accepted_60s.clear()
            self._cooldown_until = 0.0
