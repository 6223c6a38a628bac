"""Client authentication at the token and revocation endpoints: ``client_secret_post`` or ``client_secret_basic``.

The secret's hash is compared with ``hmac.compare_digest``, and an unknown client id is compared
against a decoy, so the answer's timing tells nothing about which part was wrong.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from urllib.parse import unquote_plus

import asyncpg
from starlette.requests import Request

from api.oauth import queries
from api.oauth.errors import OAuthError
from api.oauth.params import Params
from api.oauth.queries import Application
from api.tokens import hash_secret

_DECOY_HASH = hash_secret("no client has this secret")


def client_credentials(request: Request, params: Params) -> tuple[str, str]:
    """The client id and secret from an ``Authorization: Basic`` header, else from the parameters."""
    header = request.headers.get("authorization", "")
    if header[:6].lower() == "basic ":
        try:
            decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise OAuthError("invalid_client", "malformed Basic credentials") from None
        client_id, _, secret = decoded.partition(":")
        return unquote_plus(client_id), unquote_plus(secret)
    client_id, secret = params.get("client_id"), params.get("client_secret")
    return (client_id if isinstance(client_id, str) else ""), (secret if isinstance(secret, str) else "")


async def authenticate_client(conn: asyncpg.Connection, request: Request, params: Params) -> Application:
    """The application whose id and secret the request presents, or OAuthError ``invalid_client``."""
    client_id, secret = client_credentials(request, params)
    if not client_id or not secret:
        raise OAuthError("invalid_client", "client_id and client_secret are required")
    app = await queries.application_by_client_id(conn, client_id)
    expected = app.client_secret_hash if app is not None else _DECOY_HASH
    if not hmac.compare_digest(hash_secret(secret), expected) or app is None:
        raise OAuthError("invalid_client")
    return app
