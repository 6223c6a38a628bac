"""A department's collections: outbox, followers, following and featured, as Mastodon pages them.

Each collection is an ``OrderedCollection`` with ``totalItems`` and a ``first`` page; pages are
``OrderedCollectionPage`` documents, newest first, keyed by row id (``?page=true&max_id=N`` for older
items, ``&min_id=N`` for newer ones) with ``next``/``prev``/``partOf``. The outbox lists the Create
activities of public and unlisted posts only; featured embeds the pinned Notes.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from actors.follow_queries import count_followers, count_following, followers
from actors.queries import Actor
from actors.urls import ActorUrls
from outbox import queries
from outbox.builders import AS_CONTEXT, NOTE_CONTEXT, build_create_note, render_note

OUTBOX_PAGE = 20
ACTORS_PAGE = 40


def render_collection(collection_id: str, total: int, **extra: Any) -> dict[str, Any]:
    """An ``OrderedCollection`` head: its id, size and links to pages (or its items)."""
    return {"@context": AS_CONTEXT, "id": collection_id, "type": "OrderedCollection", "totalItems": total, **extra}


def render_collection_page(
    collection_id: str, query: str, items: list[Any], next_query: str | None = None, prev_query: str | None = None,
    context: Any = AS_CONTEXT,
) -> dict[str, Any]:
    """An ``OrderedCollectionPage`` of ``collection_id`` at ``?<query>``."""
    page: dict[str, Any] = {
        "@context": context, "id": f"{collection_id}?{query}", "type": "OrderedCollectionPage", "partOf": collection_id,
    }
    if next_query is not None:
        page["next"] = f"{collection_id}?{next_query}"
    if prev_query is not None:
        page["prev"] = f"{collection_id}?{prev_query}"
    page["orderedItems"] = items
    return page


def _query(max_id: int | None = None, min_id: int | None = None) -> str:
    if max_id is not None:
        return f"page=true&max_id={max_id}"
    if min_id is not None:
        return f"page=true&min_id={min_id}"
    return "page=true"


async def outbox_collection(conn: asyncpg.Connection, author: Actor, urls: ActorUrls) -> dict[str, Any]:
    """The outbox head: how many posts, and the newest and oldest pages."""
    total = await queries.count_outbox_posts(conn, author.id)
    return render_collection(urls.outbox, total, first=f"{urls.outbox}?page=true", last=f"{urls.outbox}?page=true&min_id=0")


async def outbox_page(
    conn: asyncpg.Connection, author: Actor, urls: ActorUrls, max_id: int | None = None, min_id: int | None = None
) -> dict[str, Any]:
    """One page of Create activities, newest first, older than ``max_id`` or just newer than ``min_id``."""
    page = await queries.outbox_page(conn, author.id, OUTBOX_PAGE, max_id, min_id)
    items = []
    for post, stats in page.posts:
        activity = build_create_note(post, author, stats)
        del activity["@context"]
        items.append(activity)
    posts = [post for post, _ in page.posts]
    return render_collection_page(
        urls.outbox, _query(max_id, min_id), items,
        next_query=_query(max_id=posts[-1].id) if page.older else None,
        prev_query=_query(min_id=posts[0].id) if page.newer else None,
        context=NOTE_CONTEXT,
    )


async def followers_collection(conn: asyncpg.Connection, author: Actor, urls: ActorUrls) -> dict[str, Any]:
    """The followers head: how many accepted followers, and the first page."""
    return render_collection(urls.followers, await count_followers(conn, author.id), first=f"{urls.followers}?page=true")


async def followers_page(conn: asyncpg.Connection, author: Actor, urls: ActorUrls, max_id: int | None = None) -> dict[str, Any]:
    """One page of follower actor ids, most recent follow first."""
    entries = await followers(conn, author.id, limit=ACTORS_PAGE + 1, before_id=max_id)
    shown = entries[:ACTORS_PAGE]
    more = len(entries) > ACTORS_PAGE
    return render_collection_page(
        urls.followers, _query(max_id), [e.actor_uri for e in shown],
        next_query=_query(max_id=shown[-1].follow_id) if more else None,
    )


async def following_collection(conn: asyncpg.Connection, author: Actor, urls: ActorUrls) -> dict[str, Any]:
    """The following head: how many actors the department follows, and the first page."""
    return render_collection(urls.following, await count_following(conn, author.id), first=f"{urls.following}?page=true")


async def following_page(conn: asyncpg.Connection, author: Actor, urls: ActorUrls, max_id: int | None = None) -> dict[str, Any]:
    """One page of followed actor ids, most recent follow first."""
    entries = await queries.following_uris(conn, author.id, ACTORS_PAGE + 1, max_id)
    shown = entries[:ACTORS_PAGE]
    more = len(entries) > ACTORS_PAGE
    return render_collection_page(
        urls.following, _query(max_id), [uri for _, uri in shown],
        next_query=_query(max_id=shown[-1][0]) if more else None,
    )


async def featured_collection(conn: asyncpg.Connection, author: Actor, urls: ActorUrls) -> dict[str, Any]:
    """The pinned public and unlisted Notes, most recently pinned first."""
    posts = await queries.pinned_posts(conn, author.id)
    stats = await queries.note_stats(conn, [p.id for p in posts])
    notes = [render_note(p, author, stats.get(p.id), context=False) for p in posts]
    document = render_collection(urls.featured, len(notes), orderedItems=notes)
    document["@context"] = NOTE_CONTEXT
    return document
