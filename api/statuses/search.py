"""``GET /api/v2/search``: accounts, statuses and hashtags.

A query that is an ``@user@host`` handle or an http(s) URL names one thing: with ``resolve=true``
(staff tokens only) an unknown remote account is found by WebFinger and an unknown remote post is
fetched and stored, so the department can reply to it, favourite or boost it. Other queries match
usernames and names, the words of posts the department may see, and hashtags by prefix.
"""

from __future__ import annotations

import re

import asyncpg
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from actors.errors import FetchFailed, InvalidDocument, NotFound, ValidationError
from actors.queries import Actor, local_actor_by_username
from actors.remote import ActorResolver
from actors.remote_documents import has_type, object_id
from actors.remote_queries import remote_actor_by_handle
from api.errors import Unauthorized, Unprocessable
from api.statuses import search_queries
from api.statuses.access import positive_limit, reader, viewer_of
from api.statuses.entities import Json
from api.statuses.params import flag_param, query_params, text_param
from api.statuses.views import render_account_map, render_statuses
from fedi.responses import JSONResponse
from outbox import queries as post_queries
from outbox.interaction_queries import insert_fetched_post
from outbox.queries import Post
from outbox.remote_posts import POST_TYPES, fetch_post

TYPES = ("accounts", "statuses", "hashtags")
PAGE, MAX_PAGE = 20, 40
HANDLE_RE = re.compile(r"^@?([\w.-]+)@([\w.-]+(?::\d+)?)$")
URL_RE = re.compile(r"^https?://\S+$")


def _offset(value: str | None) -> int:
    if value in (None, ""):
        return 0
    if not value.isdigit():
        raise Unprocessable("offset must be a number")
    return int(value)


async def _fetched(conn: asyncpg.Connection, resolver: ActorResolver, url: str) -> tuple[Actor | None, Post | None]:
    """The remote account or post at ``url``, fetched and stored (nothing when it cannot be)."""
    try:
        document = await resolver.fetch_document(url)
        if has_type(document, POST_TYPES):
            fetched, author = await fetch_post(resolver, url, "find")
            await insert_fetched_post(conn, fetched, author.id)
            return None, await post_queries.post_by_uri(conn, fetched.uri)
        actor_uri = object_id(document.get("id"))
        return (await resolver.get_actor(actor_uri) if actor_uri and "inbox" in document else None), None
    except (FetchFailed, InvalidDocument, ValidationError, NotFound):
        return None, None


async def _resolve(
    conn: asyncpg.Connection, resolver: ActorResolver, q: str, resolve: bool, viewer_id: int | None
) -> tuple[list[Actor], list[Post]]:
    """What a handle or URL names: stored, or (``resolve``) fetched."""
    handle = HANDLE_RE.match(q)
    if handle is not None:
        username, host = handle.groups()
        if resolve:
            try:
                return [await resolver.resolve_handle(f"{username}@{host}")], []
            except (FetchFailed, InvalidDocument):
                return [], []
        if host.lower() == resolver.settings.domain:
            stored = await local_actor_by_username(conn, username)
        else:
            stored = await remote_actor_by_handle(conn, username, host)
        return ([stored] if stored else []), []
    actor = await search_queries.actor_by_address(conn, q)
    post = await search_queries.post_by_address(conn, q, viewer_id)
    if actor is None and post is None and resolve and not resolver.is_local(q):
        actor, fetched = await _fetched(conn, resolver, q)
        post = None if fetched is None else await search_queries.post_by_address(conn, fetched.uri, viewer_id)
    return ([actor] if actor else []), ([post] if post else [])


async def search(request: Request) -> Response:
    """GET /api/v2/search (``q``, ``type``, ``resolve``, ``limit``, ``offset``)."""
    auth = await reader(request, "read:search")
    viewer = viewer_of(auth)
    params = query_params(request)
    q = (text_param(params, "q") or "").strip()
    kind = text_param(params, "type") or None
    if not q:
        raise Unprocessable("q is required")
    if kind is not None and kind not in TYPES:
        raise Unprocessable(f"type must be one of {', '.join(TYPES)}")
    resolve, offset = bool(flag_param(params, "resolve")), _offset(text_param(params, "offset"))
    if (resolve or offset) and (auth is None or auth.staff_id is None):
        raise Unauthorized("resolve and offset need a staff member's token")
    limit = positive_limit(text_param(params, "limit"), PAGE, MAX_PAGE)
    settings = request.state.settings
    result: dict[str, list[Json]] = {"accounts": [], "statuses": [], "hashtags": []}
    async with request.state.pool.acquire() as conn:
        if HANDLE_RE.match(q) or URL_RE.match(q):
            actors, posts = await _resolve(conn, request.state.resolver, q, resolve, viewer)
        else:
            words = q.lstrip("#")
            actors = await search_queries.actors_matching(conn, q.lstrip("@"), limit, offset) if kind in (None, "accounts") else []
            posts = await search_queries.posts_matching(conn, q, viewer, limit, offset) if viewer and kind in (None, "statuses") else []
            tags = await search_queries.hashtags_matching(conn, words, limit, offset) if kind in (None, "hashtags") else []
            result["hashtags"] = [{"name": t, "url": f"{settings.base_url}/tags/{t}", "history": []} for t in tags]
        if kind in (None, "accounts"):
            accounts = await render_account_map(conn, actors, settings)
            result["accounts"] = [accounts[a.id] for a in actors]
        if kind in (None, "statuses"):
            result["statuses"] = await render_statuses(conn, posts, viewer, settings)
    return JSONResponse(result)


routes = [Route("/api/v2/search", search, methods=["GET"])]
