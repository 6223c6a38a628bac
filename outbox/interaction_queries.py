"""SQL for a department's own likes and boosts, and for the remote posts they concern.

A department's likes and boosts are rows of ``interactions`` whose actor is the department: the
table the inbox fills with remote actors' likes and boosts of our posts, so a post's counts include
both. An interaction's id is reserved before insertion because its activity id contains it (a like
undone and given again is a new activity with a new id); ``UNIQUE (kind, actor_id, post_id, content)``
keeps one like and one boost per department and post.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

LIKE, ANNOUNCE = "like", "announce"


@dataclass(frozen=True)
class Interaction:
    """A like or boost as stored, with the id of the post it concerns."""

    id: int
    uri: str
    kind: str
    actor_id: int
    post_id: int
    post_uri: str
    created_at: datetime


@dataclass(frozen=True)
class FetchedPost:
    """The columns of a remote post read from its fetched document."""

    uri: str
    object_type: str
    url: str | None
    in_reply_to_uri: str | None
    visibility: str
    content_html: str
    summary: str
    sensitive: bool
    to_uris: list[str]
    cc_uris: list[str]
    published_at: datetime
    edited_at: datetime | None


_INTERACTION = "i.id, i.uri, i.kind, i.actor_id, i.post_id, p.uri AS post_uri, i.created_at"


def _interaction(row: asyncpg.Record | None) -> Interaction | None:
    return None if row is None else Interaction(**dict(row))


async def next_interaction_id(conn: asyncpg.Connection) -> int:
    """Reserve the id of an interaction about to be inserted."""
    return int(await conn.fetchval("SELECT nextval(pg_get_serial_sequence('interactions', 'id'))"))


async def insert_interaction(
    conn: asyncpg.Connection, interaction_id: int, uri: str, kind: str, actor_id: int, post_id: int
) -> Interaction | None:
    """Store a like or boost under its reserved id; None when the actor already has one of that kind on the post."""
    row = await conn.fetchrow(
        f"""WITH added AS (
                INSERT INTO interactions (id, uri, kind, actor_id, post_id) OVERRIDING SYSTEM VALUE
                VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING RETURNING *)
            SELECT {_INTERACTION} FROM added i JOIN posts p ON p.id = i.post_id""",
        interaction_id, uri, kind, actor_id, post_id,
    )
    return _interaction(row)


async def interaction_on(conn: asyncpg.Connection, kind: str, actor_id: int, post_id: int) -> Interaction | None:
    """The actor's like or boost (by ``kind``) of a post, if there is one."""
    row = await conn.fetchrow(
        f"""SELECT {_INTERACTION} FROM interactions i JOIN posts p ON p.id = i.post_id
            WHERE i.kind = $1 AND i.actor_id = $2 AND i.post_id = $3 AND i.content = ''""",
        kind, actor_id, post_id,
    )
    return _interaction(row)


async def interaction_by_reference(conn: asyncpg.Connection, kind: str, actor_id: int, reference: str) -> Interaction | None:
    """The actor's like or boost of the post named by its id or page URL, if there is one."""
    row = await conn.fetchrow(
        f"""SELECT {_INTERACTION} FROM interactions i JOIN posts p ON p.id = i.post_id
            WHERE i.kind = $1 AND i.actor_id = $2 AND i.content = '' AND (p.uri = $3 OR p.url = $3)
            ORDER BY p.uri = $3 DESC, i.id LIMIT 1""",
        kind, actor_id, reference,
    )
    return _interaction(row)


async def delete_interaction(conn: asyncpg.Connection, interaction_id: int) -> bool:
    """Remove an interaction; True if it was still stored."""
    return await conn.execute("DELETE FROM interactions WHERE id = $1", interaction_id) != "DELETE 0"


async def insert_fetched_post(conn: asyncpg.Connection, post: FetchedPost, author_id: int) -> None:
    """Store a fetched remote post (linked to the post it replies to when stored); nothing when its id is stored."""
    values: list[Any] = [
        post.uri, author_id, post.object_type, post.url, post.in_reply_to_uri, post.visibility, post.content_html,
        post.summary, post.sensitive, post.to_uris, post.cc_uris, post.published_at, post.edited_at,
    ]
    await conn.execute(
        """INSERT INTO posts (uri, local, author_id, object_type, url, in_reply_to_uri, in_reply_to_id, visibility,
               content_html, summary, sensitive, to_uris, cc_uris, published_at, edited_at)
           VALUES ($1, false, $2, $3, $4, $5, (SELECT id FROM posts WHERE uri = $5), $6, $7, $8, $9, $10, $11, $12, $13)
           ON CONFLICT (uri) DO NOTHING""",
        *values,
    )
