"""Routes of posts and collections: JSON for fediverse servers, a small page for people.

Only public and unlisted posts are served; followers-only and direct posts exist only in their
recipients' inboxes (fedi does not sign-check fetches), so their URLs answer 404 like unknown ones.
A deleted post answers 410, with a Tombstone for ActivityPub clients.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from actors.queries import Actor, local_actor_by_username
from actors.urls import ActorUrls, department_urls
from fedi.responses import activity_response, error_response, wants_activity_json
from fedi.templating import render_page
from outbox import collections, queries
from outbox.builders import (
    AS_CONTEXT, build_create_note, render_note, render_note_tombstone, render_replies, render_replies_page,
)
from outbox.queries import NoteStats, Post

Head = Callable[[asyncpg.Connection, Actor, ActorUrls], Awaitable[dict[str, Any]]]
Page = Callable[[asyncpg.Connection, Actor, ActorUrls, int | None, int | None], Awaitable[dict[str, Any]]]


def _missing(request: Request, status: int, message: str) -> Response:
    """An error as a page for browsers, else as ``{"error": ...}``."""
    if "text/html" in request.headers.get("accept", "") and not wants_activity_json(request):
        heading = "Post deleted" if status == 410 else "Not found"
        return render_page("message.html", status, heading=heading, text=message)
    return error_response(status, message)


def _id_param(request: Request, name: str) -> int | None:
    value = request.query_params.get(name)
    if value is None or value == "":
        return None
    if not value.isdigit():
        raise ValueError(f"{name} must be a post id, not {value!r}")
    return int(value)


async def _department(conn: asyncpg.Connection, request: Request) -> Actor | Response:
    username = request.path_params["username"]
    department = await local_actor_by_username(conn, username, include_deleted=True)
    if department is None:
        return _missing(request, 404, f"no department named {username!r}")
    if department.deleted_at is not None:
        return _missing(request, 410, f"department {username!r} has been deleted")
    return department


async def _post(conn: asyncpg.Connection, request: Request) -> tuple[Actor, Post] | Response:
    """The department and its public or unlisted post named by the path, or the error to answer."""
    department = await _department(conn, request)
    if isinstance(department, Response):
        return department
    post = await queries.local_post(conn, department.id, request.path_params["post_id"])
    if post is None or post.visibility not in queries.LISTED:
        return _missing(request, 404, f"no post {request.path_params['post_id']} of {department.username!r}")
    if post.deleted_at is not None and not wants_activity_json(request):
        return _missing(request, 410, "this post has been deleted")
    return department, post


def _collection(head: Head, page: Page) -> Callable[[Request], Awaitable[Response]]:
    """A handler serving a collection's head, or one of its pages with ``?page=true``."""

    async def handler(request: Request) -> Response:
        try:
            max_id, min_id = _id_param(request, "max_id"), _id_param(request, "min_id")
        except ValueError as exc:
            return error_response(400, str(exc))
        async with request.state.pool.acquire() as conn:
            department = await _department(conn, request)
            if isinstance(department, Response):
                return department
            urls = department_urls(request.state.settings.base_url, department.username)
            if request.query_params.get("page", "false") in ("false", ""):
                document = await head(conn, department, urls)
            else:
                document = await page(conn, department, urls, max_id, min_id)
        return activity_response(request, document)

    return handler


async def _live_post(request: Request, tombstone: bool = False) -> tuple[Actor, Post, NoteStats] | Response:
    """The post named by the path with its counts, or what to answer instead (410 once deleted)."""
    async with request.state.pool.acquire() as conn:
        found = await _post(conn, request)
        if isinstance(found, Response):
            return found
        department, post = found
        if post.deleted_at is not None:
            if tombstone:
                return activity_response(request, render_note_tombstone(post), 410)
            return error_response(410, "this post has been deleted")
        stats = (await queries.note_stats(conn, [post.id])).get(post.id) or NoteStats()
    return department, post, stats


async def note(request: Request) -> Response:
    """``/users/{username}/statuses/{id}``: the Note (``web`` serves people the page at the same URL)."""
    found = await _live_post(request, tombstone=True)
    if isinstance(found, Response):
        return found
    department, post, stats = found
    return activity_response(request, render_note(post, department, stats))


async def note_activity(request: Request) -> Response:
    """``/users/{username}/statuses/{id}/activity``: the Create that published the post."""
    found = await _live_post(request)
    if isinstance(found, Response):
        return found
    department, post, stats = found
    return activity_response(request, build_create_note(post, department, stats))


async def note_replies(request: Request) -> Response:
    """``/users/{username}/statuses/{id}/replies``: the ids of its public and unlisted replies."""
    try:
        after_id = _id_param(request, "min_id")
    except ValueError as exc:
        return error_response(400, str(exc))
    found = await _live_post(request)
    if isinstance(found, Response):
        return found
    _, post, stats = found
    if request.query_params.get("page", "false") in ("false", "") or after_id is None:
        return activity_response(request, {"@context": AS_CONTEXT, **render_replies(post, stats)})
    async with request.state.pool.acquire() as conn:
        rows = await queries.reply_page(conn, post.id, after_id, queries.REPLIES_PAGE + 1)
    shown = rows[: queries.REPLIES_PAGE]
    next_id = shown[-1][0] if len(rows) > queries.REPLIES_PAGE else None
    return activity_response(request, render_replies_page(post, after_id, [uri for _, uri in shown], next_id))


def _counter(kind: str, field: str) -> Callable[[Request], Awaitable[Response]]:
    """A handler for a Note's ``likes`` or ``shares`` collection: its size only, as Mastodon serves it."""

    async def handler(request: Request) -> Response:
        found = await _live_post(request)
        if isinstance(found, Response):
            return found
        _, post, stats = found
        document = {"@context": AS_CONTEXT, "id": f"{post.uri}/{kind}", "type": "Collection", "totalItems": getattr(stats, field)}
        return activity_response(request, document)

    return handler


def _later(function: Callable[..., Awaitable[dict[str, Any]]]) -> Page:
    """A page function that takes only ``max_id``."""
    return lambda conn, author, urls, max_id, min_id: function(conn, author, urls, max_id)


async def _no_page(conn: asyncpg.Connection, author: Actor, urls: ActorUrls, max_id: int | None, min_id: int | None) -> dict[str, Any]:
    return await collections.featured_collection(conn, author, urls)


_STATUS = "/users/{username}/statuses/{post_id:int}"
routes = [
    Route("/users/{username}/outbox", _collection(collections.outbox_collection, collections.outbox_page), methods=["GET", "HEAD"]),
    Route("/users/{username}/followers", _collection(collections.followers_collection, _later(collections.followers_page)), methods=["GET", "HEAD"]),
    Route("/users/{username}/following", _collection(collections.following_collection, _later(collections.following_page)), methods=["GET", "HEAD"]),
    Route("/users/{username}/collections/featured", _collection(collections.featured_collection, _no_page), methods=["GET", "HEAD"]),
    Route(_STATUS, note, methods=["GET", "HEAD"]),
    Route(f"{_STATUS}/activity", note_activity, methods=["GET", "HEAD"]),
    Route(f"{_STATUS}/replies", note_replies, methods=["GET", "HEAD"]),
    Route(f"{_STATUS}/likes", _counter("likes", "likes"), methods=["GET", "HEAD"]),
    Route(f"{_STATUS}/shares", _counter("shares", "boosts"), methods=["GET", "HEAD"]),
]
