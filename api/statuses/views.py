"""Statuses rendered in bulk: everything a page of posts needs is read in a few queries, whatever its length."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from actors.queries import Actor
from api.accounts.loading import render_accounts
from api.statuses import media_queries, queries
from api.statuses.entities import (
    Json, render_media, render_mention, render_remote_media, render_status, render_tags,
)
from fedi.settings import Settings
from outbox.queries import Post


async def render_account_map(conn: asyncpg.Connection, actors: Sequence[Actor], settings: Settings) -> dict[int, Json]:
    """The Account of each actor, by actor id."""
    unique = list({a.id: a for a in actors}.values())
    return dict(zip([a.id for a in unique], await render_accounts(conn, settings.base_url, unique)))


async def render_statuses(
    conn: asyncpg.Connection, posts: Sequence[Post], viewer_id: int | None, settings: Settings, *,
    with_source: bool = False,
) -> list[Json]:
    """The Status of each post, in order."""
    if not posts:
        return []
    ids = [p.id for p in posts]
    extras = await queries.extras(conn, ids, viewer_id)
    mentions = await queries.mentions_of(conn, ids)
    media = await media_queries.media_of_posts(conn, ids)
    authors = await queries.actors_by_ids(conn, [p.author_id for p in posts])
    accounts = await render_account_map(conn, list(authors.values()), settings)
    rendered = []
    for post in posts:
        if post.local:
            attachments = [render_media(m, settings) for m in media.get(post.id, [])]
        else:
            attachments = [render_remote_media(post, i, a) for i, a in enumerate(post.attachments)]
        rendered.append(render_status(
            post, accounts[post.author_id], extras[post.id],
            mentions=[render_mention(a, settings) for a in mentions.get(post.id, [])],
            tags=render_tags(post, settings), media=attachments, viewer_id=viewer_id, with_source=with_source,
        ))
    return rendered


async def render_one(
    conn: asyncpg.Connection, post: Post, viewer_id: int | None, settings: Settings, *, with_source: bool = False
) -> Json:
    """The Status of one post."""
    return (await render_statuses(conn, [post], viewer_id, settings, with_source=with_source))[0]
