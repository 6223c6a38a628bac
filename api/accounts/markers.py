"""``GET/POST /api/v1/markers``: where a staff member stopped reading the department's home timeline
and notifications. Kept per staff member and department, so colleagues sharing a department each
keep their own place, and one person keeps one per department."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from api.accounts import queries
from api.accounts.entities import render_time
from api.accounts.queries import Marker
from api.auth import authenticate
from api.errors import Unprocessable
from api.oauth.params import body_params, list_param, query_params, text_param
from fedi.responses import JSONResponse

TIMELINES = ("home", "notifications")
MAX_ID = 2**63 - 1


def render_markers(markers: list[Marker]) -> dict[str, Any]:
    """Mastodon's hash of timeline name to Marker."""
    return {
        m.timeline: {"last_read_id": str(m.last_read_id), "version": m.version, "updated_at": render_time(m.updated_at)}
        for m in markers
    }


async def get_markers(request: Request) -> Response:
    """The saved positions of the timelines named by ``timeline[]`` (none named: an empty object)."""
    auth = await authenticate(request, "read:statuses")
    assert auth.staff_id is not None and auth.actor_id is not None
    timelines = [t for t in list_param(query_params(request), "timeline") if t in TIMELINES]
    async with request.state.pool.acquire() as conn:
        markers = await queries.markers(conn, auth.staff_id, auth.actor_id, timelines)
    return JSONResponse(render_markers(markers))


def _last_read_id(value: Any, timeline: str) -> int:
    if not isinstance(value, dict):
        raise Unprocessable(f"{timeline}[last_read_id] is required")
    text = text_param(value, "last_read_id") or ""
    if not (text.isascii() and text.isdigit()) or int(text) > MAX_ID:
        raise Unprocessable(f"{timeline}[last_read_id] must be an id")
    return int(text)


async def save_markers(request: Request) -> Response:
    """Save ``home[last_read_id]`` and/or ``notifications[last_read_id]``; answer the markers saved."""
    auth = await authenticate(request, "write:statuses")
    assert auth.staff_id is not None and auth.actor_id is not None
    params = await body_params(request)
    positions = {t: _last_read_id(params[t], t) for t in TIMELINES if t in params}
    saved = []
    async with request.state.pool.acquire() as conn:
        async with conn.transaction():
            for timeline, last_read_id in positions.items():
                saved.append(await queries.save_marker(conn, auth.staff_id, auth.actor_id, timeline, last_read_id))
    return JSONResponse(render_markers(saved))
