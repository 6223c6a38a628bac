"""Actor documents: departments at ``/users/{username}`` and the instance actor at ``/actor``.

``web`` owns those department URLs and hands requests for ActivityPub JSON to ``department_actor``;
people get the department's page there from ``web``.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from actors import queries
from actors.documents import render_department, render_instance_actor, render_tombstone
from actors.departments import ensure_instance_actor
from actors.urls import department_urls, instance_actor_urls
from fedi.responses import activity_response, error_response
from keys.store import ensure_active_key


async def department_actor(request: Request) -> Response:
    """``/users/{username}``: the actor document (a ``Tombstone`` with 410 once deleted)."""
    settings = request.state.settings
    username = request.path_params["username"]
    async with request.state.pool.acquire() as conn:
        found = await queries.local_actor_with_key(conn, username)
        if found is None:
            return error_response(404, f"no department named {username!r}")
        department, key = found
        if department.deleted_at is not None:
            return activity_response(request, render_tombstone(department), 410)
        if key is None:  # a department made before it had keys gets its first one now
            key = await ensure_active_key(conn, request.state.vault, department.id, department.uri)
    urls = department_urls(settings.base_url, department.username)
    return activity_response(request, render_department(department, urls, key))


async def instance_actor(request: Request) -> Response:
    """``/actor``: the server's own actor, fetched by peers to check our signed GETs."""
    settings = request.state.settings
    async with request.state.pool.acquire() as conn:
        actor = await ensure_instance_actor(conn, settings)
        key = await ensure_active_key(conn, request.state.vault, actor.id, actor.uri)
    return activity_response(request, render_instance_actor(actor, instance_actor_urls(settings.base_url), key))


routes = [
    Route("/actor", instance_actor, methods=["GET", "HEAD"]),
]
