"""``/api/v1/timelines/home``, ``/api/v1/timelines/public`` and ``/api/v1/accounts/:id/statuses``.

The home timeline is what a department's staff work from: its own posts and the citizens' replies
and mentions it receives. The public timeline lists the departments' public posts (remote posts are
stored only as replies and mentions, so ``remote=true`` lists nothing). Lists page with ``max_id``,
``since_id``, ``min_id`` and ``limit`` and answer a ``Link`` header.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from api.auth import authenticate
from api.accounts.loading import find_account
from api.pagination import link_header, page_of
from api.statuses import timeline_queries
from api.statuses.access import reader, viewer_of
from api.statuses.params import flag_param, query_params, text_param
from api.statuses.timeline_queries import AccountFilter
from api.statuses.views import render_statuses
from fedi.responses import JSONResponse
from outbox.queries import Post


async def _answer(request: Request, posts: list[Post], viewer: int | None) -> Response:
    page = page_of(request)
    async with request.state.pool.acquire() as conn:
        body = await render_statuses(conn, posts, viewer, request.state.settings)
    return JSONResponse(body, headers=link_header(request, [p.id for p in posts], page))


async def home_timeline(request: Request) -> Response:
    """GET /api/v1/timelines/home."""
    auth = await authenticate(request, "read:statuses")
    assert auth.actor_id is not None
    page = page_of(request)
    async with request.state.pool.acquire() as conn:  # one connection for the page and its rendering
        posts = await timeline_queries.home(conn, auth.actor_id, page)
        body = await render_statuses(conn, posts, auth.actor_id, request.state.settings)
    return JSONResponse(body, headers=link_header(request, [p.id for p in posts], page))


async def public_timeline(request: Request) -> Response:
    """GET /api/v1/timelines/public (``local``, ``remote``, ``only_media``)."""
    viewer = viewer_of(await reader(request, "read:statuses"))
    params = query_params(request)
    posts: list[Post] = []
    if not flag_param(params, "remote"):
        async with request.state.pool.acquire() as conn:
            posts = await timeline_queries.public(conn, page_of(request), bool(flag_param(params, "only_media")))
    return await _answer(request, posts, viewer)


async def account_statuses(request: Request) -> Response:
    """GET /api/v1/accounts/:id/statuses (``pinned``, ``only_media``, ``exclude_replies``, ``tagged``)."""
    viewer = viewer_of(await reader(request, "read:statuses"))
    params = query_params(request)
    options = AccountFilter(
        pinned=bool(flag_param(params, "pinned")), only_media=bool(flag_param(params, "only_media")),
        exclude_replies=bool(flag_param(params, "exclude_replies")),
        tagged=(text_param(params, "tagged") or "").lstrip("#") or None,
    )
    async with request.state.pool.acquire() as conn:
        account = await find_account(conn, str(request.path_params["id"]))
        posts = await timeline_queries.of_account(conn, account.id, viewer, options, page_of(request))
    return await _answer(request, posts, viewer)


routes = [
    Route("/api/v1/timelines/home", home_timeline, methods=["GET"]),
    Route("/api/v1/timelines/public", public_timeline, methods=["GET"]),
    Route("/api/v1/accounts/{id}/statuses", account_statuses, methods=["GET"]),
]
