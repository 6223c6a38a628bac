"""Statuses rendered in bulk: everything a page of posts needs is read in one query, whatever its length:
each post's counts, the viewer's own like and boost, the parent's author, the application, the
mentioned accounts, the uploaded media, and the authors with their counts.
"""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from actors.queries import Actor
from api.accounts.entities import render_account
from api.accounts.loading import render_accounts
from api.statuses import queries
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
    extras, authors = await queries.extras(conn, [p.id for p in posts], viewer_id)
    accounts = {actor_id: render_account(actor, stats, settings.base_url) for actor_id, (actor, stats) in authors.items()}
    rendered = []
    for post in posts:
        extra = extras[post.id]
        if post.local:
            attachments = [render_media(m, settings) for m in extra.media]
        else:
            attachments = [render_remote_media(post, i, a) for i, a in enumerate(post.attachments)]
        rendered.append(render_status(
            post, accounts[post.author_id], extra,
            mentions=[render_mention(a, settings) for a in extra.mentions],
            tags=render_tags(post, settings), media=attachments, viewer_id=viewer_id, with_source=with_source,
        ))
    return rendered


async def render_one(
    conn: asyncpg.Connection, post: Post, viewer_id: int | None, settings: Settings, *, with_source: bool = False
) -> Json:
    """The Status of one post."""
    return (await render_statuses(conn, [post], viewer_id, settings, with_source=with_source))[0]
