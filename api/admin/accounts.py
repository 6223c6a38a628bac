"""``/api/v1/admin/accounts/:id/action`` (``type=suspend``) and ``/unsuspend``, for remote accounts.

Suspending a remote account blocks its actor id for the whole instance (``actors.blocks``); the
other actions Mastodon knows (silence, sensitive, disable, a warning) do not exist in fedi and are
refused with 422, as are departments, which the CLI manages.
"""

from __future__ import annotations

import asyncpg
from starlette.requests import Request
from starlette.responses import Response

from actors import block_queries, blocks
from actors.errors import Conflict, ValidationError
from actors.queries import Actor
from api.accounts.loading import find_account, render_one
from api.admin.access import authenticate_moderator
from api.admin.entities import render_admin_account
from api.errors import Unprocessable
from api.oauth.params import all_params, text_param
from fedi.responses import JSONResponse

WRITE = "admin:write:accounts"


async def _remote_account(conn: asyncpg.Connection, request: Request) -> Actor:
    actor = await find_account(conn, request.path_params["id"])
    if actor.local:
        raise Unprocessable(f"{actor.username} is a department of this server: only remote accounts can be suspended")
    return actor


async def account_action(request: Request) -> Response:
    """Take a moderation action on a remote account: only ``type=suspend`` exists."""
    await authenticate_moderator(request, WRITE)
    params = await all_params(request)
    kind = text_param(params, "type")
    if kind != "suspend":
        raise Unprocessable(f"type {kind or 'none'!r} is not supported: fedi can only suspend remote accounts (type=suspend)")
    comment = text_param(params, "text")
    async with request.state.pool.acquire() as conn:
        actor = await _remote_account(conn, request)
        try:
            await blocks.block_actor(conn, actor.uri, request.state.settings.domain, comment)
        except ValidationError as exc:
            raise Unprocessable(str(exc)) from None
        except Conflict:
            pass  # suspended already: the action holds
    return JSONResponse({})


async def unsuspend_account(request: Request) -> Response:
    """Lift the suspension of a remote account; 422 unless the account itself is suspended."""
    await authenticate_moderator(request, WRITE)
    async with request.state.pool.acquire() as conn:
        actor = await _remote_account(conn, request)
        if await block_queries.delete_actor_block(conn, actor.uri) is None:
            domain = await blocks.blocked_among(conn, [actor.uri])
            reason = f"its domain is blocked ({actor.domain}): lift that block instead" if domain else "it is not suspended"
            raise Unprocessable(f"cannot unsuspend {actor.username}@{actor.domain}: {reason}")
        suspended = await blocks.blocked_among(conn, [actor.uri]) is not None
        account = await render_one(conn, request.state.settings.base_url, actor)
    return JSONResponse(render_admin_account(actor, account, suspended))
