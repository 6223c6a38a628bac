"""``/api/v1/notifications``: what happened to the department (mentions and replies, favourites, boosts,
follows and follow requests, edits of posts it boosted or is mentioned in).

Notifications belong to the department, so every staff member sees the same list; dismissing one
dismisses it for all of them, and so needs the editor role.
"""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from api.auth import authenticate
from api.errors import NotFoundError
from api.pagination import link_header, page_of
from api.statuses import notification_queries, queries
from api.statuses.access import NOT_FOUND, editor, path_id
from api.statuses.entities import Json, api_time
from api.statuses.notification_queries import Notification, NotificationFilter
from api.statuses.params import id_param, list_param, query_params
from api.statuses.views import render_account_map, render_statuses
from fedi.responses import JSONResponse
from fedi.settings import Settings

PAGE, MAX_PAGE = 40, 80
WITH_STATUS = frozenset({"mention", "status", "reblog", "favourite", "update"})


async def render_notifications(
    conn: asyncpg.Connection, found: Sequence[Notification], actor_id: int, settings: Settings
) -> list[Json]:
    """The Notification entities of a page of notifications."""
    senders = await queries.actors_by_ids(conn, [n.from_actor_id for n in found])
    accounts = await render_account_map(conn, list(senders.values()), settings)
    posts = await queries.visible_posts(conn, [n.post_id for n in found if n.post_id is not None], actor_id)
    statuses = dict(zip([p.id for p in posts], await render_statuses(conn, posts, actor_id, settings)))
    rendered = []
    for n in found:
        entity: Json = {
            "id": str(n.id), "type": n.type, "group_key": f"ungrouped-{n.id}", "created_at": api_time(n.created_at),
            "account": accounts[n.from_actor_id],
        }
        if n.type in WITH_STATUS:
            if n.post_id not in statuses:
                continue  # the post is no longer visible
            entity["status"] = statuses[n.post_id]
        rendered.append(entity)
    return rendered


async def list_notifications(request: Request) -> Response:
    """GET /api/v1/notifications (``types[]``, ``exclude_types[]``, ``account_id``)."""
    auth = await authenticate(request, "read:notifications")
    assert auth.actor_id is not None
    params = query_params(request)
    options = NotificationFilter(
        tuple(list_param(params, "types")), tuple(list_param(params, "exclude_types")), id_param(params, "account_id")
    )
    page = page_of(request, PAGE, MAX_PAGE)
    async with request.state.pool.acquire() as conn:
        found = await notification_queries.notifications(conn, auth.actor_id, options, page)
        body = await render_notifications(conn, found, auth.actor_id, request.state.settings)
    return JSONResponse(body, headers=link_header(request, [n.id for n in found], page))


async def show_notification(request: Request) -> Response:
    """GET /api/v1/notifications/:id."""
    auth = await authenticate(request, "read:notifications")
    assert auth.actor_id is not None
    async with request.state.pool.acquire() as conn:
        found = await notification_queries.notification(conn, auth.actor_id, path_id(request))
        body = [] if found is None else await render_notifications(conn, [found], auth.actor_id, request.state.settings)
    if not body:
        raise NotFoundError(NOT_FOUND)
    return JSONResponse(body[0])


async def clear_notifications(request: Request) -> Response:
    """POST /api/v1/notifications/clear: dismiss them all."""
    auth = await editor(request, "write:notifications")
    assert auth.actor_id is not None
    async with request.state.pool.acquire() as conn:
        await notification_queries.dismiss(conn, auth.actor_id)
    return JSONResponse({})


async def dismiss_notification(request: Request) -> Response:
    """POST /api/v1/notifications/:id/dismiss."""
    auth = await editor(request, "write:notifications")
    assert auth.actor_id is not None
    async with request.state.pool.acquire() as conn:
        if not await notification_queries.dismiss(conn, auth.actor_id, [path_id(request)]):
            raise NotFoundError(NOT_FOUND)
    return JSONResponse({})


routes = [
    Route("/api/v1/notifications", list_notifications, methods=["GET"]),
    Route("/api/v1/notifications/clear", clear_notifications, methods=["POST"]),
    Route("/api/v1/notifications/{id}", show_notification, methods=["GET"]),
    Route("/api/v1/notifications/{id}/dismiss", dismiss_notification, methods=["POST"]),
]
