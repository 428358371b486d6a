"""Who is calling: an API key in `X-API-Key` (or `Authorization: Bearer`), checked against the key ring.

No key or an unknown one: 401. A revoked key: 403, naming the key so its owner knows why.
The key's name (never the key) is left on the request for the access log.
"""

from __future__ import annotations

from fastapi import Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from jd_helix.api.errors import ApiError
from jd_helix.api.keys import ApiKey, KeyRing

api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="An API key of jd-helix serve.")
bearer = HTTPBearer(auto_error=False, description="The same API key, as a bearer token.")
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="jd-helix"'}


def require_api_key(
    request: Request,
    header_key: str | None = Security(api_key_header),
    bearer_key: HTTPAuthorizationCredentials | None = Security(bearer),
) -> ApiKey:
    presented = header_key or (bearer_key.credentials if bearer_key else None)
    if not presented:
        raise ApiError(401, "Unauthorized", "Send an API key in the X-API-Key header (or as Authorization: Bearer).", headers=_CHALLENGE)
    keys: KeyRing = request.app.state.keys
    key = keys.find(presented)
    if key is None:
        raise ApiError(401, "Unauthorized", "This API key is not known.", headers=_CHALLENGE)
    request.state.api_key_name = key.name
    if key.revoked:
        raise ApiError(403, "Forbidden", f"The API key '{key.name}' has been revoked; ask for a new one.")
    return key
