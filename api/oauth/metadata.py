"""``GET /.well-known/oauth-authorization-server``: RFC 8414 metadata, with the fields Mastodon 4.3 serves.

The endpoints are given at the origin the request came to (the public one behind a trusted proxy):
RFC 8414 requires the issuer to be the URL the metadata was fetched from.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from api.oauth.token import GRANT_TYPES
from api.scopes import KNOWN
from fedi.responses import JSONResponse

SCOPE_ORDER = ("read", "write", "follow", "push", "profile")


def render_metadata(origin: str) -> dict[str, Any]:
    """The authorization server metadata for the server at ``origin`` (no trailing slash)."""
    return {
        "issuer": f"{origin}/",
        "service_documentation": "https://docs.joinmastodon.org/",
        "authorization_endpoint": f"{origin}/oauth/authorize",
        "token_endpoint": f"{origin}/oauth/token",
        "app_registration_endpoint": f"{origin}/api/v1/apps",
        "revocation_endpoint": f"{origin}/oauth/revoke",
        "scopes_supported": [*SCOPE_ORDER, *sorted(KNOWN - set(SCOPE_ORDER))],
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "code_challenge_methods_supported": ["S256"],
        "grant_types_supported": list(GRANT_TYPES),
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
    }


async def authorization_server(request: Request) -> Response:
    """The metadata document, readable from any origin."""
    origin = str(request.base_url).rstrip("/")
    return JSONResponse(render_metadata(origin), headers={"Access-Control-Allow-Origin": "*"})
