"""Who may use the admin API: a staff member's token with the admin scope, while the staff member is a moderator.

The moderator flag is read on every request (as department roles are), so revoking it takes effect
at once for every token the staff member holds.
"""

from __future__ import annotations

from starlette.requests import Request

from actors.block_queries import is_moderator
from api.auth import ApiAuth, authenticate
from api.errors import Forbidden

NOT_ALLOWED = "This action is not allowed: it needs an instance moderator"


async def authenticate_moderator(request: Request, scope: str) -> ApiAuth:
    """The caller, when its token grants ``scope`` and its staff member is an instance moderator; else 401/403."""
    auth = await authenticate(request, scope)
    assert auth.staff_id is not None
    async with request.state.pool.acquire() as conn:
        allowed = await is_moderator(conn, auth.staff_id)
    if not allowed:
        raise Forbidden(NOT_ALLOWED)
    return auth
