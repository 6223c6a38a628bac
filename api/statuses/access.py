"""Who may read and change statuses: optional callers for public reads, editors for every change.

A token acts as one department; its staff member's role there decides: viewers read, editors and
admins write. Statuses another department may not see answer 404, as Mastodon answers for private
statuses, and so do changes to statuses that are not the department's own.
"""

from __future__ import annotations

import asyncpg
from starlette.requests import Request

from api.auth import ApiAuth, authenticate, bearer_token
from api.errors import NotFoundError, Unprocessable
from api.statuses import queries
from api.statuses.publishing import Writer
from outbox.queries import Post

NOT_FOUND = "Record not found"


async def reader(request: Request, scope: str) -> ApiAuth | None:
    """The caller of a read that anyone may make: None without a token, else the checked token."""
    if bearer_token(request) is None:
        return None
    return await authenticate(request, scope, user=False)


async def editor(request: Request, scope: str) -> ApiAuth:
    """The caller of a change: a staff member's token with ``scope`` and at least the editor role."""
    auth = await authenticate(request, scope)
    auth.require_role("editor")
    return auth


def viewer_of(auth: ApiAuth | None) -> int | None:
    """The department a caller reads as (None for anonymous and app-only callers)."""
    return None if auth is None else auth.actor_id


def writer_of(auth: ApiAuth) -> Writer:
    """The staff member, department and application of an editor's token."""
    assert auth.staff_id is not None and auth.actor_id is not None
    return Writer(auth.staff_id, auth.actor_id, auth.application_id)


def path_id(request: Request, name: str = "id") -> int:
    """A numeric id from the path; 404 for anything else (no such record)."""
    value = str(request.path_params[name])
    if not value.isdigit():
        raise NotFoundError(NOT_FOUND)
    return int(value)


async def visible_status(conn: asyncpg.Connection, request: Request, viewer_id: int | None) -> Post:
    """The status in the path, when the viewer may see it."""
    post = await queries.visible_post(conn, path_id(request), viewer_id)
    if post is None:
        raise NotFoundError(NOT_FOUND)
    return post


async def own_status(conn: asyncpg.Connection, request: Request, auth: ApiAuth) -> Post:
    """The status in the path, when it is the caller's department's own live post."""
    assert auth.actor_id is not None
    post = await queries.own_post(conn, path_id(request), auth.actor_id)
    if post is None:
        raise NotFoundError(NOT_FOUND)
    return post


def positive_limit(value: str | None, default: int, maximum: int) -> int:
    """A ``limit`` parameter clamped to 1..maximum."""
    if value in (None, ""):
        return default
    try:
        return max(1, min(int(value), maximum))
    except ValueError:
        raise Unprocessable("limit must be a number") from None
