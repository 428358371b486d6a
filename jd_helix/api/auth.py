"""Who is calling: an API key in `X-API-Key` (or `Authorization: Bearer`), checked against the key ring.

No key or an unknown one: 401. A revoked key: 403, naming the key so its owner knows why.
A key past its request budget (rate_limit.py): 429. The key's name (never the key) is left
on the request for the access log, and its budget's headers for every answer.
"""

from __future__ import annotations

from fastapi import Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from jd_helix.api.errors import ApiError
from jd_helix.api.keys import ApiKey, KeyRing
from jd_helix.api.rate_limit import KeyRateLimiter

api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="An API key of jd-helix serve.")
bearer = HTTPBearer(auto_error=False, description="The same API key, as a bearer token.")
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="jd-helix"'}


async def require_api_key(
    request: Request,
    header_key: str | None = Security(api_key_header),
    bearer_key: HTTPAuthorizationCredentials | None = Security(bearer),
) -> ApiKey:
    presented = header_key or (bearer_key.credentials if bearer_key else None)
    if not presented:
        raise ApiError(
            401,
            "Unauthorized",
            "Send an API key in the X-API-Key header (or as Authorization: Bearer).",
            headers=_CHALLENGE,
            kind="no-key",
        )
    keys: KeyRing = request.app.state.keys
    key = keys.find(presented)
    if key is None:
        raise ApiError(401, "Unauthorized", "This API key is not known.", headers=_CHALLENGE, kind="unknown-key")
    request.state.api_key_name = key.name
    if key.revoked:
        raise ApiError(
            403, "Forbidden", f"The API key '{key.name}' has been revoked; ask for a new one.", kind="key-revoked"
        )
    limiter: KeyRateLimiter = request.app.state.rate_limiter
    verdict = limiter.check(key.name)
    request.state.rate_limit_headers = verdict.headers()
    if not verdict.allowed:
        raise ApiError(
            429,
            "Too many requests",
            f"The API key '{key.name}' has made {verdict.limit} requests in the last minute; try again in {verdict.reset_s} s.",
            headers=verdict.headers(),
            kind="rate-limited",
        )
    return key
