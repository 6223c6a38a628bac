"""``GET /api/v1/accounts/:id`` and ``GET /api/v1/accounts/lookup?acct=``: public, like the profiles they show."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from api.accounts.loading import find_account, find_by_acct, render_one
from api.errors import Unprocessable
from fedi.responses import JSONResponse


async def get_account(request: Request) -> Response:
    """A department or a known remote account by id."""
    async with request.state.pool.acquire() as conn:
        actor = await find_account(conn, request.path_params["id"])
        return JSONResponse(await render_one(conn, request.state.settings.base_url, actor))


async def lookup_account(request: Request) -> Response:
    """An account by ``acct`` (``name`` for departments, ``name@domain`` for known remote accounts)."""
    acct = request.query_params.get("acct")
    if not acct:
        raise Unprocessable("acct is required")
    settings = request.state.settings
    async with request.state.pool.acquire() as conn:
        actor = await find_by_acct(conn, acct, settings.domain)
        return JSONResponse(await render_one(conn, settings.base_url, actor))
