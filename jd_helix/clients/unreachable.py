"""What a failure to reach an API tells the person reading it: which host, that it is
unreachable or down, and which setting names it.

The HTTP session has already retried (with backoff) when these are built, so the message
says the service is down rather than that one request went wrong. It names the host only
(scheme, host and port), never a path, a query or anything that could carry a key.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import requests

# What makes the step fail is not what loses data: say so, so that nobody re-runs by hand.
HEALS = "nothing is lost: the hour runs again by itself once it answers"


def host_of(url: str) -> str:
    """`scheme://host[:port]` of `url` (no user info, path or query)."""
    parts = urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname}{port}" if parts.hostname else url


def why_unreachable(error: requests.RequestException) -> str:
    if isinstance(error, requests.exceptions.SSLError):
        return "refused the TLS handshake"
    if isinstance(error, requests.Timeout):
        return "did not answer in time"
    if isinstance(error, requests.exceptions.RetryError):
        return "kept answering with errors"
    if isinstance(error, requests.ConnectionError):
        return "refused or dropped the connection"
    return f"failed ({type(error).__name__})"


def unreachable(service: str, what: str, url: str, setting: str, error: requests.RequestException) -> str:
    """E.g. "Verkada is unreachable at https://api.verkada.com (token request: refused or
    dropped the connection, after retries). Check VERKADA_API_BASE_URL and the network; ..."."""
    return (
        f"{service} is unreachable at {host_of(url)} ({what}: {why_unreachable(error)}, after retries). "
        f"Check {setting} and the network from this machine; {HEALS}."
    )


def down(service: str, what: str, url: str, status: int, message: str) -> str:
    """A 5xx answer left after the session's retries: the service is there but down."""
    return f"{service} is down at {host_of(url)} ({what}: HTTP {status} {message}, after retries); {HEALS}."
