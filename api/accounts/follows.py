"""Followers, follows and relationships of accounts.

``/api/v1/accounts/:id/followers`` and ``/following`` are public and paged by follow id (``Link``
header); for a remote account they list what this server knows (the departments among its followers
or follows). ``/api/v1/accounts/relationships`` answers for the department the token acts as.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from actors.follow_queries import ACCEPTED
from api.accounts import queries
from api.accounts.entities import render_relationship
from api.accounts.loading import find_account, render_accounts
from api.auth import authenticate
from api.oauth.params import list_param, query_params
from api.pagination import link_header, page_of
from fedi.responses import JSONResponse

MAX_RELATIONSHIPS = 100


async def _listing(request: Request, side: str) -> Response:
    page = page_of(request, default=40, maximum=80)
    async with request.state.pool.acquire() as conn:
        actor = await find_account(conn, request.path_params["id"])
        rows = await queries.follow_page(conn, actor.id, side, ACCEPTED, page)
        accounts = await render_accounts(conn, request.state.settings.base_url, [a for _, a in rows])
    return JSONResponse(accounts, headers=link_header(request, [follow_id for follow_id, _ in rows], page))


async def followers(request: Request) -> Response:
    """The accounts following an account (accepted follows), newest first."""
    return await _listing(request, "followers")


async def following(request: Request) -> Response:
    """The accounts an account follows (accepted follows), newest first."""
    return await _listing(request, "following")


async def relationships(request: Request) -> Response:
    """How the acting department stands to each account of ``id[]`` (unknown ids are left out)."""
    auth = await authenticate(request, "read:follows")
    assert auth.actor_id is not None
    given = list_param(query_params(request), "id")
    ids = list(dict.fromkeys(int(i) for i in given if i.isascii() and i.isdigit() and len(i) <= 18))
    async with request.state.pool.acquire() as conn:
        flags = await queries.relationships(conn, auth.actor_id, ids[:MAX_RELATIONSHIPS])
    return JSONResponse([render_relationship(f) for f in flags])
