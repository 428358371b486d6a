"""The JD Sports side of the sandbox, per docs/jd-api.md (served under /jd)."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from email.message import Message

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

    def handle(
        self, method: str, path: str, query: dict[str, str], headers: Message
    ) -> tuple[str, Callable[[], Reply]]:
        """(endpoint label, thunk producing the reply). The label is known before auth."""
        if not path.startswith("/v1/"):
            return "unknown", lambda: jd_error(404, f"no such endpoint: {path}")
        label = path[len("/v1/") :]
        if label != "sales" and label not in DIMENSIONS:
            return "unknown", lambda: jd_error(404, f"no such endpoint: {path}")

        def run() -> Reply:
            key = headers.get("x-api-key")
            if not key or not secrets.compare_digest(key.encode(), self.key):
                return jd_error(401, "missing or invalid X-API-Key")
            if method != "GET":
                return jd_error(405, "method not allowed")
            try:
                limit = page_limit(query.get("limit"))
                if label == "sales":
                    return self._sales(query, limit)
                return self._dimension(label, query, limit)
            except BadRequest as e:
                return jd_error(400, str(e))

        return label, run

    def _sales(self, query: dict[str, str], limit: int) -> Reply:
        if not query.get("start") or not query.get("end"):
            raise BadRequest("start and end are required (ISO 8601 instants)")
        zone = self.sales.zone
        start_us, end_us = parse_instant(query["start"], zone), parse_instant(query["end"], zone)
        # whole seconds: a sale at second s is in [start, end) when ceil(start) <= s < ceil(end)
        start_s, end_s = -(-start_us // 1_000_000), -(-end_us // 1_000_000)
        records, next_cursor, page_hour = self.sales.page(start_s, end_s, limit, query.get("cursor"))
        return Reply(200, {"data": records, "next_cursor": next_cursor}, sales_hour=page_hour)

    def _dimension(self, label: str, query: dict[str, str], limit: int) -> Reply:
        for name in ("start", "end"):
            if name in query:
                raise BadRequest(f"{label} takes no {name} filter")
        records = self.world.raw[label]
        endpoint_tag = str_key(label) & 0xFFFFFFFF  # a cursor only works for the endpoint that issued it
        position = 0
        if query.get("cursor") is not None:
            cursor = decode_cursor(query["cursor"])
            if len(cursor) != 3 or cursor[0] != "d" or not all(isinstance(part, int) for part in cursor[1:]):
                raise BadRequest("invalid cursor")
            if cursor[1] != endpoint_tag:
                raise BadRequest(f"cursor was not issued for {label}")
            position = cursor[2]
            if not 0 <= position < len(records):
                raise BadRequest("invalid cursor")
        page = records[position : position + limit]
        next_cursor = encode_cursor(["d", endpoint_tag, position + limit]) if position + limit < len(records) else None
        return Reply(200, {"data": page, "next_cursor": next_cursor})
