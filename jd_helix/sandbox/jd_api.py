"""The JD Sports side of the sandbox, per specs/jd-sports-api.md (served under /jd)."""

from __future__ import annotations

import secrets
from typing import Any, Callable

from jd_helix.sandbox.hashing import str_key
from jd_helix.sandbox.jd_query import BadRequest, decode_cursor, encode_cursor, page_limit, parse_instant
from jd_helix.sandbox.reply import Reply, jd_error
from jd_helix.sandbox.sales import SalesGenerator
from jd_helix.sandbox.world import World

DIMENSIONS = ("stores", "points-of-sale", "cameras", "inventory")


class JdApi:
    def __init__(self, world: World, sales: SalesGenerator, api_key: str):
        self.world = world
        self.sales = sales
        self.key = api_key.encode()

    def handle(self, method: str, path: str, q: dict[str, str], headers) -> tuple[str, Callable[[], Reply], dict]:
        """(endpoint label, thunk producing the reply, info for faults: {'sales_hour': int})."""
        info: dict[str, Any] = {}
        if not path.startswith("/v1/"):
            return "unknown", lambda: jd_error(404, f"no such endpoint: {path}"), info
        label = path[4:]
        if label != "sales" and label not in DIMENSIONS:
            return "unknown", lambda: jd_error(404, f"no such endpoint: {path}"), info

        def run() -> Reply:
            key = headers.get("x-api-key")
            if not key or not secrets.compare_digest(key.encode(), self.key):
                return jd_error(401, "missing or invalid X-API-Key")
            if method != "GET":
                return jd_error(405, "method not allowed")
            try:
                limit = page_limit(q.get("limit"))
                if label == "sales":
                    return self._sales(q, limit, info)
                return self._dimension(label, q, limit)
            except BadRequest as e:
                return jd_error(400, str(e))

        return label, run, info

    def _sales(self, q: dict[str, str], limit: int, info: dict) -> Reply:
        if not q.get("start") or not q.get("end"):
            raise BadRequest("start and end are required (ISO 8601 instants)")
        tz = self.sales.tz
        lo_us, hi_us = parse_instant(q["start"], tz), parse_instant(q["end"], tz)
        lo_s, hi_s = -(-lo_us // 1_000_000), -(-hi_us // 1_000_000)
        recs, nxt, page_hour = self.sales.page(lo_s, hi_s, limit, q.get("cursor"))
        info["sales_hour"] = page_hour
        return Reply(200, {"data": recs, "next_cursor": nxt})

    def _dimension(self, label: str, q: dict[str, str], limit: int) -> Reply:
        for f in ("start", "end"):
            if f in q:
                raise BadRequest(f"{label} takes no {f} filter")
        recs = self.world.raw[label]
        tag = str_key(label) & 0xFFFFFFFF
        pos = 0
        if q.get("cursor") is not None:
            c = decode_cursor(q["cursor"])
            if len(c) != 3 or c[0] != "d" or not all(isinstance(x, int) for x in c[1:]):
                raise BadRequest("invalid cursor")
            if c[1] != tag:
                raise BadRequest(f"cursor was not issued for {label}")
            pos = c[2]
            if not 0 <= pos < len(recs):
                raise BadRequest("invalid cursor")
        page = recs[pos:pos + limit]
        nxt = encode_cursor(["d", tag, pos + limit]) if pos + limit < len(recs) else None
        return Reply(200, {"data": page, "next_cursor": nxt})

