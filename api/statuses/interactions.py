"""Favourites and boosts by the department: ``/api/v1/statuses/:id/(un)favourite``, ``(un)reblog``, and who did them.

The likes and boosts themselves, and their federation, are ``outbox.interactions``; these routes add
the access rules, the audit log, and Mastodon's answers (favouriting twice, or undoing what was not
done, answers the status as it is).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import asyncpg
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from actors.errors import NotFound, ValidationError
from actors.queries import Actor
from api.pagination import link_header, page_of
from api.statuses import queries
from api.statuses.access import editor, reader, viewer_of, visible_status, writer_of
from api.statuses.entities import render_reblog
from api.statuses.publishing import department_of, domain_error
from api.statuses.views import render_account_map, render_one
from fedi.responses import JSONResponse
from outbox import audit
from outbox.interaction_queries import ANNOUNCE, LIKE, Interaction
from outbox.interactions import boost_post, like_post, unboost_post, unlike_post

ACCOUNTS_PAGE, MAX_ACCOUNTS_PAGE = 40, 80

Change = Callable[[asyncpg.Connection, Request, Actor, str], Awaitable[Interaction]]


async def _like(conn: asyncpg.Connection, request: Request, department: Actor, uri: str) -> Interaction:
    return await like_post(conn, request.state.resolver, request.state.settings, department, uri)


async def _boost(conn: asyncpg.Connection, request: Request, department: Actor, uri: str) -> Interaction:
    return await boost_post(conn, request.state.resolver, request.state.settings, department, uri)


async def _unlike(conn: asyncpg.Connection, request: Request, department: Actor, uri: str) -> Interaction:
    return await unlike_post(conn, request.state.settings, department, uri)


async def _unboost(conn: asyncpg.Connection, request: Request, department: Actor, uri: str) -> Interaction:
    return await unboost_post(conn, request.state.settings, department, uri)


def _interaction_route(change: Change, scope: str, action: str, undo: bool) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        auth = await editor(request, scope)
        writer = writer_of(auth)
        settings = request.state.settings
        async with request.state.pool.acquire() as conn, conn.transaction():
            post = await visible_status(conn, request, writer.actor_id)
            department = await department_of(conn, writer.actor_id)
            try:
                interaction: Interaction | None = await change(conn, request, department, post.uri)
            except NotFound as exc:
                if not undo:
                    raise domain_error(exc) from exc
                interaction = None  # undoing what was not done answers the status as it is
            except ValidationError as exc:
                raise domain_error(exc) from exc
            if interaction is not None:
                await audit.record(conn, writer.staff_id, writer.actor_id, action, post.id, writer.application_id)
            status = await render_one(conn, post, writer.actor_id, settings)
            if action == "reblog" and interaction is not None:
                account = (await render_account_map(conn, [department], settings))[department.id]
                status = render_reblog(status, account, interaction.uri, interaction.created_at)
        return JSONResponse(status)

    endpoint.__doc__ = f"POST /api/v1/statuses/:id/{action}."
    return endpoint


def _who(kind: str) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        viewer = viewer_of(await reader(request, "read:statuses"))
        page = page_of(request, ACCOUNTS_PAGE, MAX_ACCOUNTS_PAGE)
        async with request.state.pool.acquire() as conn:
            post = await visible_status(conn, request, viewer)
            found = await queries.interacting_actors(conn, post.id, kind, page)
            accounts = await render_account_map(conn, [actor for _, actor in found], request.state.settings)
        body = [accounts[actor.id] for _, actor in found]
        return JSONResponse(body, headers=link_header(request, [number for number, _ in found], page))

    endpoint.__doc__ = f"GET /api/v1/statuses/:id/{'favourited_by' if kind == LIKE else 'reblogged_by'}."
    return endpoint


routes = [
    Route("/api/v1/statuses/{id}/favourite", _interaction_route(_like, "write:favourites", "favourite", False), methods=["POST"]),
    Route("/api/v1/statuses/{id}/unfavourite", _interaction_route(_unlike, "write:favourites", "unfavourite", True), methods=["POST"]),
    Route("/api/v1/statuses/{id}/reblog", _interaction_route(_boost, "write:statuses", "reblog", False), methods=["POST"]),
    Route("/api/v1/statuses/{id}/unreblog", _interaction_route(_unboost, "write:statuses", "unreblog", True), methods=["POST"]),
    Route("/api/v1/statuses/{id}/favourited_by", _who(LIKE), methods=["GET"]),
    Route("/api/v1/statuses/{id}/reblogged_by", _who(ANNOUNCE), methods=["GET"]),
]
