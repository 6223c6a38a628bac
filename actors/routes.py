"""Actor URLs: the same address answers JSON to fediverse servers and a page to browsers."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from actors import queries
from actors.documents import render_department, render_instance_actor, render_tombstone
from actors.departments import ensure_instance_actor
from actors.urls import department_urls, instance_actor_urls
from fedi.responses import activity_response, error_response, wants_activity_json
from fedi.templating import render_page
from fedi.text import linkify
from keys.store import ensure_active_key


async def department_actor(request: Request) -> Response:
    """``/users/{username}``: the actor document, or its profile page for a browser."""
    if not wants_activity_json(request):
        return await profile_page(request)
    settings = request.state.settings
    username = request.path_params["username"]
    async with request.state.pool.acquire() as conn:
        department = await queries.local_actor_by_username(conn, username, include_deleted=True)
        if department is None:
            return error_response(404, f"no department named {username!r}")
        if department.deleted_at is not None:
            return activity_response(request, render_tombstone(department), 410)
        key = await ensure_active_key(conn, request.state.vault, department.id, department.uri)
    urls = department_urls(settings.base_url, department.username)
    return activity_response(request, render_department(department, urls, key))


async def profile_page(request: Request) -> Response:
    """``/@{username}``: the department's page for people."""
    settings = request.state.settings
    username = request.path_params["username"]
    if wants_activity_json(request):
        return await department_actor(request)
    async with request.state.pool.acquire() as conn:
        department = await queries.local_actor_by_username(conn, username, include_deleted=True)
    handle = f"@{username}@{settings.domain}"
    if department is None:
        return render_page("message.html", 404, heading="No such account", text=f"There is no {handle} here.")
    if department.deleted_at is not None:
        return render_page("message.html", 410, heading="Account deleted", text=f"{handle} has been deleted.")
    fields = [{"name": f["name"], "value": linkify(f["value"])} for f in department.fields]
    return render_page(
        "department.html",
        department=department,
        fields=fields,
        urls=department_urls(settings.base_url, department.username),
        domain=settings.domain,
        headers={"Vary": "Accept", "Link": f'<{department.uri}>; rel="alternate"; type="application/activity+json"'},
    )


async def instance_actor(request: Request) -> Response:
    """``/actor``: the server's own actor, fetched by peers to check our signed GETs."""
    settings = request.state.settings
    async with request.state.pool.acquire() as conn:
        actor = await ensure_instance_actor(conn, settings)
        key = await ensure_active_key(conn, request.state.vault, actor.id, actor.uri)
    return activity_response(request, render_instance_actor(actor, instance_actor_urls(settings.base_url), key))


routes = [
    Route("/users/{username}", department_actor, methods=["GET", "HEAD"]),
    Route("/@{username}", profile_page, methods=["GET", "HEAD"]),
    Route("/actor", instance_actor, methods=["GET", "HEAD"]),
]
