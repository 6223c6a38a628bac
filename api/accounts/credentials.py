"""``GET /api/v1/accounts/verify_credentials`` and ``PATCH /api/v1/accounts/update_credentials``.

The account is the department the token acts as; the staff member acting is named under the
``fedi`` key, since an Account has no place for it. Only admins and editors may change the profile.
"""

from __future__ import annotations

from typing import Any

import asyncpg
from starlette.requests import Request
from starlette.responses import Response

from actors.departments import update_department
from actors.errors import NotFound, ValidationError
from actors.queries import memberships
from actors.remote_queries import actor_by_id
from api.accounts import queries
from api.accounts.entities import AccountStats, render_credential_account
from api.accounts.profile import profile_changes
from api.auth import ApiAuth, authenticate
from api.errors import Forbidden, NotFoundError, Unauthorized, Unprocessable
from api.oauth.params import body_params
from api.scopes import allows
from fedi.responses import JSONResponse
from outbox.actor_updates import send_profile_update


async def credential_account(conn: asyncpg.Connection, base_url: str, auth: ApiAuth) -> dict[str, Any]:
    """The acting department as a CredentialAccount."""
    assert auth.staff_id is not None and auth.actor_id is not None
    actor = await actor_by_id(conn, auth.actor_id)
    membership = await memberships(conn, staff_id=auth.staff_id, actor_id=auth.actor_id)
    if actor is None or actor.deleted_at is not None or not membership:
        raise Unauthorized("The access token's department no longer exists")
    stats = (await queries.account_stats(conn, [actor.id])).get(actor.id, AccountStats())
    requests = await queries.count_follow_requests(conn, actor.id)
    return render_credential_account(actor, stats, base_url, requests, membership[0].staff_username, membership[0].role)


async def verify_credentials(request: Request) -> Response:
    """The department the token acts as, with its ``source``."""
    auth = await authenticate(request)
    if not (allows(auth.scopes, "read:accounts") or "profile" in auth.scopes):
        raise Forbidden("This action is outside the authorized scopes")
    async with request.state.pool.acquire() as conn:
        return JSONResponse(await credential_account(conn, request.state.settings.base_url, auth))


async def update_credentials(request: Request) -> Response:
    """Change the department's name, note, fields, locked and discoverable flags (admins and editors)."""
    auth = await authenticate(request, "write:accounts")
    auth.require_role("editor")
    changes = profile_changes(await body_params(request))
    assert auth.actor_id is not None
    async with request.state.pool.acquire() as conn:
        async with conn.transaction():
            actor = await actor_by_id(conn, auth.actor_id)
            if actor is None:
                raise NotFoundError("Record not found")
            if changes:
                try:
                    updated = await update_department(conn, actor.username, changes)
                    await send_profile_update(conn, request.state.settings, request.state.vault, updated)
                except ValidationError as exc:
                    raise Unprocessable(f"Validation failed: {exc}") from None
                except NotFound as exc:
                    raise NotFoundError(str(exc)) from None
            return JSONResponse(await credential_account(conn, request.state.settings.base_url, auth))
