"""Scheduled statuses: ``scheduled_at`` on POST /api/v1/statuses, and ``/api/v1/scheduled_statuses``.

A draft is checked when it is scheduled (text, media, the post replied to) and stored with Mastodon's
ScheduledStatus ``params``; ``api.scheduling.ScheduledTask`` publishes it when it is due.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import asyncpg
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from api.auth import authenticate
from api.errors import NotFoundError, Unprocessable
from api.pagination import link_header, page_of
from api.statuses import media_queries, scheduling_queries
from api.statuses.access import NOT_FOUND, editor, path_id, writer_of
from api.statuses.entities import Json, api_time, render_media
from api.statuses.params import all_params, moment_param
from api.statuses.publishing import Draft, Writer, check_media, reply_target
from api.statuses.scheduling_queries import Scheduled
from fedi.responses import JSONResponse
from fedi.settings import Settings
from outbox import audit

MIN_DELAY = timedelta(minutes=5)
MAX_SCHEDULED = 300


def check_time(scheduled_at: datetime | None) -> datetime:
    """A publication time at least five minutes ahead."""
    if scheduled_at is None or scheduled_at < datetime.now(timezone.utc) + MIN_DELAY:
        raise Unprocessable("Validation failed: Scheduled at The scheduled date must be at least 5 minutes in the future")
    return scheduled_at


async def schedule(conn: asyncpg.Connection, writer: Writer, draft: Draft, scheduled_at: datetime) -> Scheduled:
    """Check a draft and store it to publish at ``scheduled_at``."""
    check_time(scheduled_at)
    await reply_target(conn, draft.in_reply_to_id, writer.actor_id)
    await check_media(conn, writer.actor_id, draft.media_ids, None)
    if await scheduling_queries.count_pending(conn, writer.actor_id) >= MAX_SCHEDULED:
        raise Unprocessable(f"Validation failed: a department may have at most {MAX_SCHEDULED} scheduled statuses")
    scheduled = await scheduling_queries.insert_scheduled(
        conn, writer.actor_id, writer.staff_id, writer.application_id, draft.as_params(writer.application_id), scheduled_at
    )
    await audit.record(conn, writer.staff_id, writer.actor_id, "schedule", None, writer.application_id)
    return scheduled


async def render_scheduled(conn: asyncpg.Connection, scheduled: Scheduled, settings: Settings) -> Json:
    """A ScheduledStatus with the media it will carry."""
    media_ids = [int(i) for i in scheduled.params.get("media_ids") or ()]
    media = await media_queries.media_by_ids(conn, media_ids, scheduled.actor_id)
    return {
        "id": str(scheduled.id), "scheduled_at": api_time(scheduled.scheduled_at), "params": scheduled.params,
        "media_attachments": [render_media(m, settings) for m in media],
    }


async def _own(conn: asyncpg.Connection, request: Request, actor_id: int | None) -> Scheduled:
    assert actor_id is not None
    scheduled = await scheduling_queries.scheduled_of(conn, path_id(request), actor_id)
    if scheduled is None:
        raise NotFoundError(NOT_FOUND)
    return scheduled


async def list_scheduled(request: Request) -> Response:
    """GET /api/v1/scheduled_statuses."""
    auth = await authenticate(request, "read:statuses")
    assert auth.actor_id is not None
    page = page_of(request)
    async with request.state.pool.acquire() as conn:
        found = await scheduling_queries.pending_scheduled(conn, auth.actor_id, page)
        body = [await render_scheduled(conn, s, request.state.settings) for s in found]
    return JSONResponse(body, headers=link_header(request, [s.id for s in found], page))


async def show_scheduled(request: Request) -> Response:
    """GET /api/v1/scheduled_statuses/:id."""
    auth = await authenticate(request, "read:statuses")
    async with request.state.pool.acquire() as conn:
        return JSONResponse(await render_scheduled(conn, await _own(conn, request, auth.actor_id), request.state.settings))


async def update_scheduled(request: Request) -> Response:
    """PUT /api/v1/scheduled_statuses/:id: move it to another time."""
    auth = await editor(request, "write:statuses")
    writer = writer_of(auth)
    scheduled_at = check_time(moment_param(await all_params(request), "scheduled_at"))
    async with request.state.pool.acquire() as conn, conn.transaction():
        scheduled = await _own(conn, request, auth.actor_id)
        moved = await scheduling_queries.reschedule(conn, scheduled.id, scheduled_at)
        await audit.record(conn, writer.staff_id, writer.actor_id, "reschedule", None, writer.application_id)
        return JSONResponse(await render_scheduled(conn, moved, request.state.settings))


async def cancel_scheduled(request: Request) -> Response:
    """DELETE /api/v1/scheduled_statuses/:id."""
    auth = await editor(request, "write:statuses")
    writer = writer_of(auth)
    async with request.state.pool.acquire() as conn, conn.transaction():
        scheduled = await _own(conn, request, auth.actor_id)
        if not await scheduling_queries.delete_scheduled(conn, scheduled.id):
            raise NotFoundError(NOT_FOUND)
        await audit.record(conn, writer.staff_id, writer.actor_id, "unschedule", None, writer.application_id)
    return JSONResponse({})


routes = [
    Route("/api/v1/scheduled_statuses", list_scheduled, methods=["GET"]),
    Route("/api/v1/scheduled_statuses/{id}", show_scheduled, methods=["GET"]),
    Route("/api/v1/scheduled_statuses/{id}", update_scheduled, methods=["PUT"]),
    Route("/api/v1/scheduled_statuses/{id}", cancel_scheduled, methods=["DELETE"]),
]
