"""Checks on the API base URLs operators configure."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit


def is_loopback_host(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def checked_base_url(url: str, setting: str) -> str:
    """The URL without its trailing slash; plain HTTP is allowed for loopback hosts only.

    An API key sent over plain HTTP to another host could be read on the way, so it is
    refused before any request is made.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{setting} must be an http(s) URL, got {url!r}")
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        raise ValueError(
            f"{setting} uses plain HTTP for {parts.hostname}: use https "
            "(plain HTTP is allowed only for localhost / 127.0.0.0/8 / ::1)"
        )
    return url.rstrip("/")
