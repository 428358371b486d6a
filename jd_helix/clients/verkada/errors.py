"""Verkada errors, and reading the server's error body.

Every message carries the server's ``message`` where it sent one, never the API key or
the token (callers redact before building a message).
"""

from __future__ import annotations

from typing import Any

import orjson
import requests

API_KEY_ENV = "VERKADA_API_KEY"
BASE_URL_ENV = "VERKADA_API_BASE_URL"


class VerkadaError(Exception):
    """A Verkada call failed. ``str()`` carries the server's message, never a secret."""

    def __init__(self, message: str, *, status: int | None = None, error_id: str | None = None):
        super().__init__(message)
        self.status = status
        self.error_id = error_id


class VerkadaAuthError(VerkadaError):
    """The API key was refused (or a fresh token was refused): fix VERKADA_API_KEY."""


class VerkadaConfigError(VerkadaError, ValueError):
    """The client's settings cannot work (missing key, plain HTTP to a remote host...)."""


def server_message(response: requests.Response) -> tuple[str, str | None]:
    """The server's ``message`` (and ``id``) from a ``{"id","message","data"}`` body."""
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        body = None
    if isinstance(body, dict) and body.get("message"):
        return str(body["message"]), (str(body["id"]) if body.get("id") is not None else None)
    reason = response.reason or "error"
    return f"HTTP {response.status_code} {reason}", None


def parse_json(response: requests.Response, what: str) -> Any:
    """The response's JSON, or a VerkadaError saying ``what`` sent something else."""
    try:
        return orjson.loads(response.content)
    except orjson.JSONDecodeError:
        raise VerkadaError(f"{what}: the server sent a body that is not JSON", status=response.status_code) from None
