"""Opaque page cursors: the sort key of the last row sent, bound to the query it came from.

Pages are read by keyset (rows strictly after the cursor's key, in the report's fixed
order), so a page never repeats or skips a row because the data was refreshed between
two requests; rows added before the cursor's position since are not returned.
"""

from __future__ import annotations

import base64
import binascii
import hashlib

import orjson

from jd_helix.api.errors import bad_parameter

VERSION = 1


def _query_fingerprint(report: str, filters: list) -> str:
    return hashlib.sha256(orjson.dumps([report, filters])).hexdigest()[:16]


def encode_cursor(report: str, filters: list, key: list[str]) -> str:
    payload = orjson.dumps({"v": VERSION, "q": _query_fingerprint(report, filters), "k": key})
    return base64.urlsafe_b64encode(payload).decode().rstrip("=")


def decode_cursor(token: str, report: str, filters: list, key_length: int) -> list[str]:
    """The key inside `token`, or a 400 if it is not a cursor of this very query."""
    try:
        payload = orjson.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (ValueError, binascii.Error, orjson.JSONDecodeError):
        raise bad_parameter("cursor", "not a cursor this API gave out") from None
    if not isinstance(payload, dict):
        raise bad_parameter("cursor", "not a cursor this API gave out")
    key = payload.get("k")
    if (
        payload.get("v") != VERSION
        or not isinstance(key, list)
        or len(key) != key_length
        or not all(isinstance(part, str) for part in key)
    ):
        raise bad_parameter("cursor", "not a cursor this API gave out")
    if payload.get("q") != _query_fingerprint(report, filters):
        raise bad_parameter("cursor", "belongs to another query: keep the filters of the first page")
    return key
