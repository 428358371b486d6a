"""Faults on demand: set at start (SandboxConfig.faults) or while running
(`sb.faults.update(...)`, `POST /_sandbox/faults`). /_sandbox/ is never faulted.

Per API ("jd", "verkada"; api="both" sets both):
- error_rate: share of requests answered 500/502/503/504 (seeded random)
- burst_429: the next N requests are answered 429 (every other one with Retry-After: 1)
- latency_ms: added to every request
- drop_rate: share of requests whose connection is closed without an answer (before any write)
- drop_after_apply: share of Verkada writes that are applied, then dropped without an answer
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
from typing import Any

APIS = ("jd", "verkada")


@dataclass
class FaultSettings:
    error_rate: float = 0.0
    burst_429: int = 0
    latency_ms: float = 0.0
    drop_rate: float = 0.0
    drop_after_apply: float = 0.0
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
        self.apis: dict[str, FaultSettings] = {a: FaultSettings() for a in APIS}
        self.token_ttl_s: float | None = None
        self._sales_pages = 0
        self._burst_seen = 0

    def update(self, api: str = "both", **settings: Any) -> None:
        if "token_ttl_s" in settings:
            self.token_ttl_s = settings.pop("token_ttl_s")
        names = {f.name for f in dataclasses.fields(FaultSettings)}
        bad = set(settings) - names
        if bad:
            raise TypeError(f"unknown fault setting(s) {sorted(bad)}; known: {sorted(names | {'token_ttl_s'})}")
        targets = APIS if api == "both" else (api,)
        for a in targets:
            if a not in self.apis:
                raise ValueError(f"api must be 'jd', 'verkada' or 'both', not {api!r}")
        with self._lock:
            for a in targets:
                for k, v in settings.items():
                    setattr(self.apis[a], k, v)
                if "non_json_page" in settings:
                    self._sales_pages = 0

    def reset(self) -> None:
        with self._lock:
            self.apis = {a: FaultSettings() for a in APIS}
            self.token_ttl_s = None
            self._sales_pages = 0

    def apply_config(self, faults: Any) -> None:
        if not faults:
            return
        for f in faults if isinstance(faults, (list, tuple)) else [faults]:
            self.update(**dict(f))

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            d: dict[str, Any] = {a: dataclasses.asdict(s) for a, s in self.apis.items()}
            d["token_ttl_s"] = self.token_ttl_s
            return d

    # ------------------------------------------------- decisions (one per request)
    def before(self, api: str) -> tuple[float, str | None, bool]:
        """(latency s, action, retry_after) with action None, 'drop', '429', or '5xx:<code>'."""
        with self._lock:
            s = self.apis[api]
            lat = s.latency_ms / 1000.0
            if s.drop_rate and self._rng.random() < s.drop_rate:
                return lat, "drop", False
            if s.burst_429 > 0:
                s.burst_429 -= 1
                self._burst_seen += 1
                return lat, "429", self._burst_seen % 2 == 1
            if s.error_rate and self._rng.random() < s.error_rate:
                return lat, f"5xx:{self._rng.choice((500, 502, 503, 504))}", False
            return lat, None, False

    def non_json_for(self, api: str, label: str, sales_page_hour: int | None = None) -> int | None:
        """Status of an HTML answer for this (successful) request, or None."""
        with self._lock:
            s = self.apis[api]
            hit = False
            if s.non_json > 0:
                s.non_json -= 1
                hit = True
            if s.non_json_endpoint is not None and s.non_json_endpoint == label:
                hit = True
            if sales_page_hour is not None:
                self._sales_pages += 1
                if s.non_json_page is not None and self._sales_pages == s.non_json_page:
                    hit = True
                if s.non_json_hour is not None:
                    from datetime import datetime, timezone

                    want = datetime.fromtimestamp(sales_page_hour * 3600, timezone.utc).strftime("%Y-%m-%dT%H")
                    if s.non_json_hour[:13] == want:
                        hit = True
            return s.non_json_status if hit else None

    def drop_after(self, api: str) -> bool:
        with self._lock:
            s = self.apis[api]
            return bool(s.drop_after_apply) and self._rng.random() < s.drop_after_apply
