"""Who is calling: the bearer token checked on every request, its scopes and its department role.

A token acts for one staff member as one department. It stops working when it is revoked or
expires, and also the moment the staff member leaves the department: the role is read from the
membership on every request, never copied into the token.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from api import token_queries
from api.errors import Forbidden, Unauthorized, Unprocessable
from api.scopes import allows
from api.tokens import hash_secret

if TYPE_CHECKING:  # the worker reaches this module without serving requests
    from starlette.requests import Request

ROLE_RANK = {"viewer": 0, "editor": 1, "admin": 2}


@dataclass(frozen=True)
class ApiAuth:
    """A verified caller."""

    token_id: int
    application_id: int | None
    staff_id: int | None
    actor_id: int | None
    scopes: frozenset[str]
    role: str | None

    def require_role(self, minimum: str) -> None:
        """403 unless the staff member has at least ``minimum`` (viewer < editor < admin) in the department."""
        if self.role is None or ROLE_RANK[self.role] < ROLE_RANK[minimum]:
            raise Forbidden(f"this action needs the {minimum} role in the department")


def bearer_token(request: Request) -> str | None:
    """The token from ``Authorization: Bearer …`` (or the ``access_token`` query parameter, as Mastodon allows)."""
    header = request.headers.get("authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip() or None
    return request.query_params.get("access_token") or None


async def authenticate(request: Request, scope: str | None = None, *, user: bool = True) -> ApiAuth:
    """The caller of ``request``: 401 without a valid token, 403 without ``scope`` or (when ``user``) a staff login."""
    token = bearer_token(request)
    if token is None:
        raise Unauthorized("The access token is invalid")
    async with request.state.pool.acquire() as conn:
        record = await token_queries.use_token(conn, hash_secret(token))
        if record is None or record.revoked_at is not None:
            raise Unauthorized("The access token is invalid")
        if record.expires_at is not None and record.expires_at <= datetime.now(timezone.utc):
            raise Unauthorized("The access token expired")
        if record.staff_id is not None and record.role is None:
            raise Unauthorized("The access token's staff member no longer belongs to its department")
    auth = ApiAuth(
        record.id, record.application_id, record.staff_id, record.actor_id, frozenset(record.scopes.split()), record.role
    )
    if user and auth.staff_id is None:
        raise Unprocessable("This method requires an authenticated user")  # an app-only token, as Mastodon answers
    if scope is not None and not allows(auth.scopes, scope):
        raise Forbidden("This action is outside the authorized scopes")
    return auth
