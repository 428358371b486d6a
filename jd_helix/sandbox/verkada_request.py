"""Reading a Verkada request: its JSON body, integer parameters and page tokens, and the
400 they raise when they are wrong."""

from __future__ import annotations

from typing import Any

import orjson


class InvalidRequest(Exception):
    """The request breaks a Verkada rule: answered 400 with this message."""


def int_param(query: dict[str, str], name: str, default: int, lowest: int, highest: int) -> int:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidRequest(f"{name} must be an integer") from None
    if not lowest <= value <= highest:
        raise InvalidRequest(f"{name} must be between {lowest} and {highest}")
    return value


def json_body(body: bytes) -> dict[str, Any]:
    try:
        payload = orjson.loads(body or b"{}")
    except orjson.JSONDecodeError:
        raise InvalidRequest("request body is not valid JSON") from None
    if not isinstance(payload, dict):
        raise InvalidRequest("request body must be a JSON object")
    return payload


def page_start(page_token: Any, total: int) -> int:
    """The list position a page token stands for (tokens are positions, as text)."""
    if page_token is None or page_token == "":
        return 0
    try:
        start = int(page_token)
    except (TypeError, ValueError):
        raise InvalidRequest("invalid page_token") from None
    if not 0 <= start <= total:
        raise InvalidRequest("invalid page_token")
    return start
