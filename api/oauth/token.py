"""``POST /oauth/token`` and ``POST /oauth/revoke``: codes, client credentials and refresh tokens for tokens.

Each request authenticates the client first and runs in one transaction. A code is redeemed once,
within ten minutes, by the application it was issued to, with the same redirect URI and (when a
challenge was sent) the PKCE verifier; a refresh token is exchanged once, for a token with the same
staff member, department and at most the same scopes. Staff tokens do not expire, as Mastodon's do
not: revoking them (``/oauth/revoke``, or a password change) or leaving the department ends them.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Any

import asyncpg
from starlette.requests import Request
from starlette.responses import Response

from actors.queries import memberships
from api import token_queries
from api.errors import ApiError
from api.oauth import queries
from api.oauth.clients import authenticate_client
from api.oauth.errors import NO_STORE, OAuthError
from api.oauth.params import Params, body_params
from api.oauth.pkce import verifier_matches
from api.oauth.queries import Application
from api.oauth.registration import ordered_scopes
from api.scopes import ScopeError, within
from api.tokens import IssuedToken, hash_secret, issue_token
from fedi.responses import JSONResponse

GRANT_TYPES = ("authorization_code", "client_credentials", "refresh_token")


def render_token(token: IssuedToken, created_at: int) -> dict[str, Any]:
    """Mastodon's Token entity (with ``refresh_token`` when one was issued)."""
    entity: dict[str, Any] = {
        "access_token": token.access_token,
        "token_type": "Bearer",
        "scope": token.scopes,
        "created_at": created_at,
    }
    if token.refresh_token is not None:
        entity["refresh_token"] = token.refresh_token
    return entity


def _text(params: Params, name: str) -> str:
    value = params.get(name)
    if not isinstance(value, str) or not value:
        raise OAuthError("invalid_request", f"{name} is required")
    return value


def _narrowed(requested: Any, allowed: str, default: str) -> str:
    """The requested scopes (``default`` when none are asked for); invalid_scope unless within ``allowed``."""
    try:
        scopes = ordered_scopes(requested if isinstance(requested, str) else None, default=default)
    except ScopeError as exc:
        raise OAuthError("invalid_scope", str(exc)) from None
    if not within(scopes.split(), allowed.split()):
        raise OAuthError("invalid_scope", f"only {allowed!r} may be granted")
    return scopes


async def _redeem_code(conn: asyncpg.Connection, app: Application, params: Params) -> IssuedToken:
    grant = await queries.grant_for_update(conn, hash_secret(_text(params, "code")))
    if grant is None or grant.application_id != app.id:
        raise OAuthError("invalid_grant", "unknown code")
    if grant.used_at is not None:
        raise OAuthError("invalid_grant", "the code was already used")
    if grant.expires_at <= datetime.now(timezone.utc):
        raise OAuthError("invalid_grant", "the code expired")
    if params.get("redirect_uri") != grant.redirect_uri:
        raise OAuthError("invalid_grant", "redirect_uri differs from the authorization request's")
    verifier = params.get("code_verifier")
    if grant.code_challenge is not None:
        if not isinstance(verifier, str) or not verifier_matches(grant.code_challenge, verifier):
            raise OAuthError("invalid_grant", "the PKCE code_verifier does not match the code_challenge")
    elif verifier is not None:
        raise OAuthError("invalid_grant", "a code_verifier was sent, but the authorization had no code_challenge")
    if not await memberships(conn, staff_id=grant.staff_id, actor_id=grant.actor_id):
        raise OAuthError("invalid_grant", "the staff member no longer belongs to the department")
    await queries.mark_grant_used(conn, grant.id)
    return await issue_token(
        conn, scopes=grant.scopes, application_id=app.id, staff_id=grant.staff_id, actor_id=grant.actor_id,
        with_refresh=True,
    )


async def _refresh(conn: asyncpg.Connection, app: Application, params: Params) -> IssuedToken:
    refresh_hash = hash_secret(_text(params, "refresh_token"))
    old = await queries.token_by_refresh_hash(conn, refresh_hash)
    if old is None or old.revoked_at is not None or old.application_id != app.id:
        raise OAuthError("invalid_grant", "unknown or revoked refresh token")
    if old.staff_id is not None and old.role is None:
        raise OAuthError("invalid_grant", "the staff member no longer belongs to the department")
    scopes = _narrowed(params.get("scope"), old.scopes, old.scopes)
    await token_queries.revoke_token(conn, refresh_hash)
    return await issue_token(
        conn, scopes=scopes, application_id=app.id, staff_id=old.staff_id, actor_id=old.actor_id, with_refresh=True
    )


async def _app_token(conn: asyncpg.Connection, app: Application, params: Params) -> IssuedToken:
    return await issue_token(conn, scopes=_narrowed(params.get("scope"), app.scopes, "read"), application_id=app.id)


GRANTS = {"authorization_code": _redeem_code, "refresh_token": _refresh, "client_credentials": _app_token}


async def _params(request: Request) -> Params:
    try:
        return await body_params(request)
    except ApiError as exc:
        raise OAuthError("invalid_request", exc.message) from None


async def token(request: Request) -> Response:
    """Exchange a grant for a token (Mastodon's Token entity), or answer an RFC 6749 error."""
    try:
        params = await _params(request)
        grant_type = params.get("grant_type")
        if not isinstance(grant_type, str) or not grant_type:
            raise OAuthError("invalid_request", "grant_type is required")
        async with request.state.pool.acquire() as conn:
            async with conn.transaction():
                app = await authenticate_client(conn, request, params)
                handler = GRANTS.get(grant_type)
                if handler is None:
                    raise OAuthError("unsupported_grant_type", f"grant_type must be one of {', '.join(GRANT_TYPES)}")
                issued = await handler(conn, app, params)
    except OAuthError as exc:
        return exc.response()
    return JSONResponse(render_token(issued, int(time.time())), headers=NO_STORE)


async def revoke(request: Request) -> Response:
    """Revoke an access or refresh token of the authenticated client; unknown tokens are no error (RFC 7009)."""
    try:
        params = await _params(request)
        async with request.state.pool.acquire() as conn:
            async with conn.transaction():
                app = await authenticate_client(conn, request, params)
                presented = params.get("token")
                if not isinstance(presented, str) or not presented:
                    raise OAuthError("unauthorized_client", "no token was given")
                token_hash = hash_secret(presented)
                known, owner = await queries.token_application(conn, token_hash)
                if known and owner != app.id:
                    raise OAuthError("unauthorized_client")
                if known:
                    await token_queries.revoke_token(conn, token_hash)
    except OAuthError as exc:
        return exc.response()
    return JSONResponse({}, headers=NO_STORE)
