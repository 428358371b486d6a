"""Faults on demand: set at start (SandboxConfig.faults) or while running
(`sandbox.faults.update(...)`, `POST /_sandbox/faults`). /_sandbox/ is never faulted.

Per API ("jd", "verkada"; api="both" sets both):
- error_rate: share of requests answered 500/502/503/504 (seeded random)
- burst_429: the next N requests are answered 429 (every other one with Retry-After: 1)
- latency_ms: added to every request
- drop_rate: share of requests whose connection is closed without an answer (before any write)
- drop_after_apply: share of Verkada writes that are applied, then dropped without an answer
- lose_create_rate: (Verkada) share of acknowledged event creates (single or batch item) that
  Helix then does not hold: the answer is a success, /_sandbox/writes lists it with lost=True,
  /_sandbox/events and search never show it (as a batch job that reports success but stores nothing)
- non_json: the next N requests (JD: pages of any endpoint) are answered with an HTML body
- non_json_endpoint: every request to this endpoint label (e.g. "sales") is answered with HTML
- non_json_page: (JD) the Nth sales page served from now on (1-based) is answered with HTML, once
- non_json_hour: (JD) sales pages positioned in this UTC hour ("2024-03-02T10") are answered with HTML
- non_json_status: the status of HTML answers: 200 (default) or 502
Global: token_ttl_s (Verkada token lifetime, applies to existing tokens too; None = config).
"""

from __future__ import annotations

import dataclasses
import random
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

APIS = ("jd", "verkada")


@dataclass
class FaultSettings:
    error_rate: float = 0.0
    burst_429: int = 0
    latency_ms: float = 0.0
    drop_rate: float = 0.0
    drop_after_apply: float = 0.0
    lose_create_rate: float = 0.0
    non_json: int = 0
    non_json_endpoint: str | None = None
    non_json_page: int | None = None
    non_json_hour: str | None = None
    non_json_status: int = 200


class Faults:
    def __init__(self, seed: int = 0):
        self._lock = threading.Lock()
        self._rng = random.Random(seed * 7919 + 17)
        self._seed = seed
        self.apis: dict[str, FaultSettings] = {api: FaultSettings() for api in APIS}
        self.token_ttl_s: float | None = None
        self._sales_pages = 0
        self._burst_seen = 0

    def update(self, api: str = "both", **settings: Any) -> None:
        if "token_ttl_s" in settings:
            self.token_ttl_s = settings.pop("token_ttl_s")
        names = {setting.name for setting in dataclasses.fields(FaultSettings)}
        bad = set(settings) - names
        if bad:
            raise TypeError(f"unknown fault setting(s) {sorted(bad)}; known: {sorted(names | {'token_ttl_s'})}")
        targets = APIS if api == "both" else (api,)
        for target in targets:
            if target not in self.apis:
                raise ValueError(f"api must be 'jd', 'verkada' or 'both', not {api!r}")
        with self._lock:
            for target in targets:
                for name, value in settings.items():
                    setattr(self.apis[target], name, value)
                if "non_json_page" in settings:
                    self._sales_pages = 0

    def reset(self) -> None:
        with self._lock:
            self.apis = {api: FaultSettings() for api in APIS}
            self.token_ttl_s = None
            self._sales_pages = 0

    def apply_config(self, faults: Any) -> None:
        if not faults:
            return
        for settings in faults if isinstance(faults, (list, tuple)) else [faults]:
            self.update(**dict(settings))

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            snapshot: dict[str, Any] = {api: dataclasses.asdict(settings) for api, settings in self.apis.items()}
            snapshot["token_ttl_s"] = self.token_ttl_s
            return snapshot

    # ------------------------------------------------- decisions (one per request)
    def before(self, api: str) -> tuple[float, str | None, bool]:
        """(latency s, action, retry_after) with action None, 'drop', '429', or '5xx:<code>'."""
        with self._lock:
            settings = self.apis[api]
            latency_s = settings.latency_ms / 1000.0
            if settings.drop_rate and self._rng.random() < settings.drop_rate:
                return latency_s, "drop", False
            if settings.burst_429 > 0:
                settings.burst_429 -= 1
                self._burst_seen += 1
                return latency_s, "429", self._burst_seen % 2 == 1
            if settings.error_rate and self._rng.random() < settings.error_rate:
                return latency_s, f"5xx:{self._rng.choice((500, 502, 503, 504))}", False
            return latency_s, None, False

    def non_json_for(self, api: str, label: str, sales_page_hour: int | None = None) -> int | None:
        """Status of an HTML answer for this (successful) request, or None."""
        with self._lock:
            settings = self.apis[api]
            hit = False
            if settings.non_json > 0:
                settings.non_json -= 1
                hit = True
            if settings.non_json_endpoint is not None and settings.non_json_endpoint == label:
                hit = True
            if sales_page_hour is not None:
                self._sales_pages += 1
                if settings.non_json_page is not None and self._sales_pages == settings.non_json_page:
                    hit = True
                if settings.non_json_hour is not None:
                    page_hour = datetime.fromtimestamp(sales_page_hour * 3600, UTC).strftime("%Y-%m-%dT%H")
                    if settings.non_json_hour[:13] == page_hour:
                        hit = True
            return settings.non_json_status if hit else None

    def lose_create(self, api: str = "verkada") -> bool:
        """Whether Helix loses this acknowledged create (lose_create_rate)."""
        with self._lock:
            settings = self.apis[api]
            return bool(settings.lose_create_rate) and self._rng.random() < settings.lose_create_rate

    def drop_after(self, api: str) -> bool:
        with self._lock:
            settings = self.apis[api]
            return bool(settings.drop_after_apply) and self._rng.random() < settings.drop_after_apply
