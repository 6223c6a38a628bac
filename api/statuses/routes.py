"""``/api/v1/statuses``: post, view, edit, delete, thread context, source, pin and unpin.

POST honours ``Idempotency-Key`` (the same key from the same staff member and department within an
hour answers the first result) and ``scheduled_at`` (a ScheduledStatus is answered instead). Reads of
public and unlisted statuses need no token; every change needs a staff token with the editor role,
and only the department's own statuses can be changed.
"""

from __future__ import annotations

import asyncpg
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from actors.errors import NotFound, ValidationError
from api.auth import authenticate
from api.errors import NotFoundError
from api.statuses import media_queries, publishing, publishing_queries, queries, scheduling_queries
from api.statuses.access import editor, own_status, reader, viewer_of, visible_status, writer_of
from api.statuses.entities import Json, render_context, render_source
from api.statuses.params import all_params, moment_param
from api.statuses.publishing import Writer
from api.statuses.scheduled import render_scheduled, schedule
from api.statuses.views import render_one, render_statuses
from fedi.responses import JSONResponse
from outbox import audit
from outbox.posts import pin_post, unpin_post

PUBLIC_THREAD = (40, 60)  # ancestors, descendants shown to anonymous callers
AUTHENTICATED_THREAD = (4096, 4096)
MAX_IDEMPOTENCY_KEY = 256


async def _earlier_result(conn: asyncpg.Connection, request: Request, writer: Writer, found: publishing_queries.IdempotentResult) -> Json:
    """What the first request with the same Idempotency-Key produced."""
    if found.scheduled_status_id is not None:
        scheduled = await scheduling_queries.scheduled_of(conn, found.scheduled_status_id, writer.actor_id)
        if scheduled is not None:
            return await render_scheduled(conn, scheduled, request.state.settings)
    post = None if found.post_id is None else await queries.visible_post(conn, found.post_id, writer.actor_id)
    if post is None:
        raise NotFoundError("Record not found")
    return await render_one(conn, post, writer.actor_id, request.state.settings)


async def create_status(request: Request) -> Response:
    """POST /api/v1/statuses: publish now, or schedule when ``scheduled_at`` is given."""
    auth = await editor(request, "write:statuses")
    writer = writer_of(auth)
    params = await all_params(request)
    draft = publishing.read_draft(params)
    scheduled_at = moment_param(params, "scheduled_at")
    key = (request.headers.get("idempotency-key") or "").strip()[:MAX_IDEMPOTENCY_KEY]
    settings = request.state.settings
    async with request.state.pool.acquire() as conn, conn.transaction():
        if key:
            earlier = await publishing_queries.claim_idempotency_key(conn, writer.staff_id, writer.actor_id, key)
            if earlier is not None:
                return JSONResponse(await _earlier_result(conn, request, writer, earlier))
        if scheduled_at is not None:
            scheduled = await schedule(conn, writer, draft, scheduled_at)
            if key:
                await publishing_queries.settle_idempotency_key(
                    conn, writer.staff_id, writer.actor_id, key, scheduled_status_id=scheduled.id
                )
            return JSONResponse(await render_scheduled(conn, scheduled, settings))
        post = await publishing.publish(conn, request.state.resolver, settings, writer, draft)
        if key:
            await publishing_queries.settle_idempotency_key(conn, writer.staff_id, writer.actor_id, key, post_id=post.id)
        return JSONResponse(await render_one(conn, post, writer.actor_id, settings))


async def show_status(request: Request) -> Response:
    """GET /api/v1/statuses/:id."""
    viewer = viewer_of(await reader(request, "read:statuses"))
    async with request.state.pool.acquire() as conn:
        post = await visible_status(conn, request, viewer)
        return JSONResponse(await render_one(conn, post, viewer, request.state.settings))


async def delete_status(request: Request) -> Response:
    """DELETE /api/v1/statuses/:id: the deleted status with its ``text``, for delete-and-redraft."""
    auth = await editor(request, "write:statuses")
    settings = request.state.settings
    async with request.state.pool.acquire() as conn, conn.transaction():
        post = await own_status(conn, request, auth)
        deleted = await publishing.delete(conn, settings, writer_of(auth), post)
        status = await render_one(conn, deleted, auth.actor_id, settings, with_source=True)
        await media_queries.attach_media(conn, post.id, [])  # free for the redraft
    return JSONResponse(status)


async def edit_status(request: Request) -> Response:
    """PUT /api/v1/statuses/:id: change text, content warning, sensitivity, language or media."""
    auth = await editor(request, "write:statuses")
    params = await all_params(request)
    settings = request.state.settings
    async with request.state.pool.acquire() as conn, conn.transaction():
        post = await own_status(conn, request, auth)
        edited = await publishing.edit(conn, request.state.resolver, settings, writer_of(auth), post, params)
        return JSONResponse(await render_one(conn, edited, auth.actor_id, settings))


async def status_context(request: Request) -> Response:
    """GET /api/v1/statuses/:id/context: the visible thread above and below."""
    auth = await reader(request, "read:statuses")
    viewer = viewer_of(auth)
    above, below = PUBLIC_THREAD if auth is None else AUTHENTICATED_THREAD
    settings = request.state.settings
    async with request.state.pool.acquire() as conn:
        post = await visible_status(conn, request, viewer)
        ancestors = await queries.ancestors(conn, post, viewer, above)
        descendants = await queries.descendants(conn, post, viewer, below)
        return JSONResponse(render_context(
            await render_statuses(conn, ancestors, viewer, settings),
            await render_statuses(conn, descendants, viewer, settings),
        ))


async def status_source(request: Request) -> Response:
    """GET /api/v1/statuses/:id/source: the plain text a client puts in its edit box."""
    auth = await authenticate(request, "read:statuses")
    async with request.state.pool.acquire() as conn:
        return JSONResponse(render_source(await own_status(conn, request, auth)))


async def _pinning(request: Request, pin: bool) -> Response:
    auth = await editor(request, "write:accounts")
    writer = writer_of(auth)
    settings = request.state.settings
    async with request.state.pool.acquire() as conn, conn.transaction():
        post = await own_status(conn, request, auth)
        if (post.pinned_at is not None) != pin:  # pinning a pinned post (or unpinning an unpinned one) changes nothing
            try:
                post = await (pin_post if pin else unpin_post)(conn, settings, post.uri)
            except (ValidationError, NotFound) as exc:
                raise publishing.domain_error(exc) from exc
            action = "pin" if pin else "unpin"
            await audit.record(conn, writer.staff_id, writer.actor_id, action, post.id, writer.application_id)
        return JSONResponse(await render_one(conn, post, auth.actor_id, settings))


async def pin_status(request: Request) -> Response:
    """POST /api/v1/statuses/:id/pin: feature one of the department's public or unlisted posts."""
    return await _pinning(request, True)


async def unpin_status(request: Request) -> Response:
    """POST /api/v1/statuses/:id/unpin."""
    return await _pinning(request, False)


routes = [
    Route("/api/v1/statuses", create_status, methods=["POST"]),
    Route("/api/v1/statuses/{id}", show_status, methods=["GET"]),
    Route("/api/v1/statuses/{id}", delete_status, methods=["DELETE"]),
    Route("/api/v1/statuses/{id}", edit_status, methods=["PUT"]),
    Route("/api/v1/statuses/{id}/context", status_context, methods=["GET"]),
    Route("/api/v1/statuses/{id}/source", status_source, methods=["GET"]),
    Route("/api/v1/statuses/{id}/pin", pin_status, methods=["POST"]),
    Route("/api/v1/statuses/{id}/unpin", unpin_status, methods=["POST"]),
]
