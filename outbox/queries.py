"""SQL for local posts and what the collections read: each function takes the caller's connection first.

Local posts take their id from the sequence before insertion, because the id is part of their URI.
Collections page by post (or follow) id, newest first: local ids grow with publication time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

import asyncpg

from actors.queries import ACTOR_COLUMNS, Actor

# Visibilities anyone may read; private and direct posts are only delivered, never served.
LISTED = ("public", "unlisted")
REPLIES_PAGE = 40


@dataclass(frozen=True)
class Post:
    """A post as stored, local or remote."""

    id: int
    uri: str
    local: bool
    author_id: int
    staff_id: int | None
    object_type: str
    url: str | None
    in_reply_to_uri: str | None
    in_reply_to_id: int | None
    visibility: str
    source: str | None
    content_html: str
    summary: str
    sensitive: bool
    language: str | None
    to_uris: list[str]
    cc_uris: list[str]
    tags: list[dict[str, Any]]
    attachments: list[dict[str, Any]]
    published_at: datetime
    edited_at: datetime | None
    deleted_at: datetime | None
    pinned_at: datetime | None
    created_at: datetime


@dataclass(frozen=True)
class NoteStats:
    """What a Note says about its replies and interactions."""

    replies: int = 0
    likes: int = 0
    boosts: int = 0
    reply_uris: tuple[str, ...] = ()
    next_reply_id: int | None = None  # the last listed reply's id when more follow it


@dataclass(frozen=True)
class NewPost:
    """The columns of a local post written at publication and rewritten by an edit."""

    source: str
    content_html: str
    summary: str
    sensitive: bool
    language: str | None
    to_uris: list[str]
    cc_uris: list[str]
    tags: list[dict[str, Any]]
    attachments: list[dict[str, Any]] = field(default_factory=list)


_POST = (
    "id, uri, local, author_id, staff_id, object_type, url, in_reply_to_uri, in_reply_to_id, visibility, source, "
    "content_html, summary, sensitive, language, to_uris, cc_uris, tags, attachments, published_at, edited_at, "
    "deleted_at, pinned_at, created_at"
)


_POST_NAMES = _POST.split(", ")
if _POST_NAMES != [f.name for f in fields(Post)]:
    raise ImportError("_POST must name Post's fields in their order")


def _post(row: asyncpg.Record | None) -> Post | None:
    return None if row is None else Post(**dict(row))


def _required(row: asyncpg.Record | None) -> Post:
    post = _post(row)
    assert post is not None
    return post


async def next_post_id(conn: asyncpg.Connection) -> int:
    """Reserve the id of a local post about to be inserted."""
    return int(await conn.fetchval("SELECT nextval(pg_get_serial_sequence('posts', 'id'))"))


async def insert_local_post(
    conn: asyncpg.Connection, post_id: int, uri: str, url: str, author_id: int, staff_id: int | None,
    visibility: str, in_reply_to_uri: str | None, in_reply_to_id: int | None, values: NewPost,
) -> Post:
    """Store a local post under its reserved id."""
    row = await conn.fetchrow(
        f"""INSERT INTO posts (id, uri, local, author_id, staff_id, url, in_reply_to_uri, in_reply_to_id, visibility,
                source, content_html, summary, sensitive, language, to_uris, cc_uris, tags, attachments)
            VALUES ($1, $2, true, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
            RETURNING {_POST}""",
        post_id, uri, author_id, staff_id, url, in_reply_to_uri, in_reply_to_id, visibility, values.source,
        values.content_html, values.summary, values.sensitive, values.language, values.to_uris, values.cc_uris,
        values.tags, values.attachments,
    )
    return _required(row)


async def update_local_post(conn: asyncpg.Connection, post_id: int, values: NewPost) -> Post:
    """Rewrite a local post's text and addressing; ``edited_at`` becomes now.

    Each edit lands in a later whole second than the previous one, because the Update's id is
    ``#updates/<unix time>`` and two edits within a second must not share it.
    """
    row = await conn.fetchrow(
        f"""UPDATE posts SET source = $2, content_html = $3, summary = $4, sensitive = $5, language = $6,
                to_uris = $7, cc_uris = $8, tags = $9, attachments = $10,
                edited_at = GREATEST(now(), date_trunc('second', edited_at) + interval '1 second')
            WHERE id = $1 AND local RETURNING {_POST}""",
        post_id, values.source, values.content_html, values.summary, values.sensitive, values.language,
        values.to_uris, values.cc_uris, values.tags, values.attachments,
    )
    return _required(row)


async def mark_post_deleted(conn: asyncpg.Connection, post_id: int) -> Post:
    """Soft-delete a post (its URL then answers 410) and unpin it."""
    row = await conn.fetchrow(
        f"UPDATE posts SET deleted_at = now(), pinned_at = NULL WHERE id = $1 RETURNING {_POST}", post_id
    )
    return _required(row)


async def set_pinned(conn: asyncpg.Connection, post_id: int, pinned: bool) -> Post:
    """Pin a post to its author's profile (now) or unpin it."""
    row = await conn.fetchrow(
        f"""UPDATE posts SET pinned_at = CASE WHEN $2 THEN now() END WHERE id = $1 RETURNING {_POST}""",
        post_id, pinned,
    )
    return _required(row)


async def post_by_id(conn: asyncpg.Connection, post_id: int) -> Post | None:
    """Any stored post by database id."""
    return _post(await conn.fetchrow(f"SELECT {_POST} FROM posts WHERE id = $1", post_id))


async def post_by_uri(conn: asyncpg.Connection, uri: str) -> Post | None:
    """Any stored post, local or remote, by its id."""
    return _post(await conn.fetchrow(f"SELECT {_POST} FROM posts WHERE uri = $1", uri))


async def post_by_url(conn: asyncpg.Connection, url: str) -> Post | None:
    """A local post by its page URL (``/@user/<id>``), as people copy it from a browser."""
    return _post(await conn.fetchrow(f"SELECT {_POST} FROM posts WHERE url = $1 AND local", url))


async def local_post(conn: asyncpg.Connection, author_id: int, post_id: int) -> Post | None:
    """A local post of ``author_id`` by database id, deleted or not."""
    return _post(
        await conn.fetchrow(f"SELECT {_POST} FROM posts WHERE id = $1 AND author_id = $2 AND local", post_id, author_id)
    )


@dataclass(frozen=True)
class OutboxPage:
    """A page of the outbox, newest first, each post with its stats, and whether posts lie beyond either end."""

    posts: list[tuple[Post, NoteStats]]
    older: bool
    newer: bool


_LIVE_LISTED = "{t}.author_id = $1 AND {t}.local AND {t}.deleted_at IS NULL AND {t}.visibility = ANY($2::text[])"


async def outbox_page(
    conn: asyncpg.Connection, author_id: int, limit: int, max_id: int | None = None, min_id: int | None = None
) -> OutboxPage:
    """Live public and unlisted posts with their stats, newest first: older than ``max_id`` or else just newer
    than ``min_id``; with whether older and newer ones exist. One query."""
    ascending = min_id is not None and max_id is None
    rows = await conn.fetch(
        f"""WITH page AS MATERIALIZED (
                SELECT {_POST} FROM posts p
                WHERE {_LIVE_LISTED.format(t="p")}
                  AND ($3::bigint IS NULL OR p.id < $3) AND ($4::bigint IS NULL OR p.id > $4)
                ORDER BY p.id {"ASC" if ascending else "DESC"} LIMIT $5)
            SELECT p.*, {_note_stats_columns("$2", "$6")},
                   EXISTS (SELECT 1 FROM posts q WHERE {_LIVE_LISTED.format(t="q")}
                           AND q.id < (SELECT min(id) FROM page)) AS older,
                   EXISTS (SELECT 1 FROM posts q WHERE {_LIVE_LISTED.format(t="q")}
                           AND q.id > (SELECT max(id) FROM page)) AS newer
            FROM page p ORDER BY p.id DESC""",
        author_id, LISTED, max_id, min_id, limit, REPLIES_PAGE,
    )
    return OutboxPage(
        [(_post_of(r), _stats_of(r)) for r in rows],
        older=bool(rows) and rows[0]["older"], newer=bool(rows) and rows[0]["newer"],
    )


async def count_outbox_posts(conn: asyncpg.Connection, author_id: int) -> int:
    """How many live public and unlisted posts an actor has."""
    return int(
        await conn.fetchval(
            """SELECT count(*) FROM posts
               WHERE author_id = $1 AND local AND deleted_at IS NULL AND visibility = ANY($2::text[])""",
            author_id, LISTED,
        )
    )


async def pinned_posts(conn: asyncpg.Connection, author_id: int, listed_only: bool = True) -> list[Post]:
    """An actor's live pinned posts, most recently pinned first."""
    rows = await conn.fetch(
        f"""SELECT {_POST} FROM posts
            WHERE author_id = $1 AND pinned_at IS NOT NULL AND deleted_at IS NULL
              AND (NOT $2 OR visibility = ANY($3::text[]))
            ORDER BY pinned_at DESC, id DESC""",
        author_id, listed_only, LISTED,
    )
    return [Post(**dict(r)) for r in rows]


def _note_stats_columns(listed: str, replies_page: str) -> str:
    """The SQL columns of ``NoteStats`` for post ``p`` (read back by ``_stats_of``), given the placeholders of
    LISTED and REPLIES_PAGE; the first replies come as a JSON array of [id, uri]."""
    return f"""(SELECT count(*) FROM posts r WHERE r.in_reply_to_id = p.id AND r.deleted_at IS NULL
                  AND r.visibility = ANY({listed}::text[])) AS stat_replies,
               (SELECT count(*) FROM interactions i WHERE i.post_id = p.id AND i.kind = 'like') AS stat_likes,
               (SELECT count(*) FROM interactions i WHERE i.post_id = p.id AND i.kind = 'announce') AS stat_boosts,
               (SELECT json_agg(json_build_array(r.id, r.uri) ORDER BY r.id) FROM (
                    SELECT r.id, r.uri FROM posts r WHERE r.in_reply_to_id = p.id AND r.deleted_at IS NULL
                      AND r.visibility = ANY({listed}::text[]) ORDER BY r.id LIMIT {replies_page}) r) AS stat_reply_page"""


def _stats_of(row: asyncpg.Record) -> NoteStats:
    page = row["stat_reply_page"] or []
    more = row["stat_replies"] > len(page)
    return NoteStats(
        replies=row["stat_replies"], likes=row["stat_likes"], boosts=row["stat_boosts"],
        reply_uris=tuple(uri for _, uri in page), next_reply_id=page[-1][0] if more and page else None,
    )


def _post_of(row: asyncpg.Record) -> Post:
    """The Post in the first columns of ``row`` (``SELECT {_POST}, …``)."""
    return Post(*[row[i] for i in range(len(_POST_NAMES))])


async def note_stats(conn: asyncpg.Connection, post_ids: Sequence[int]) -> dict[int, NoteStats]:
    """Reply, like and boost counts and the first listed replies of each post (one query for any number)."""
    if not post_ids:
        return {}
    rows = await conn.fetch(
        f"SELECT p.id, {_note_stats_columns('$2', '$3')} FROM posts p WHERE p.id = ANY($1::bigint[])",
        list(post_ids), LISTED, REPLIES_PAGE,
    )
    return {row["id"]: _stats_of(row) for row in rows}


async def reply_page(conn: asyncpg.Connection, post_id: int, after_id: int, limit: int = REPLIES_PAGE) -> list[tuple[int, str]]:
    """(id, uri) of the live public and unlisted replies to a post after ``after_id``, oldest first."""
    rows = await conn.fetch(
        """SELECT id, uri FROM posts WHERE in_reply_to_id = $1 AND id > $2 AND deleted_at IS NULL
             AND visibility = ANY($3::text[]) ORDER BY id LIMIT $4""",
        post_id, after_id, LISTED, limit,
    )
    return [(r["id"], r["uri"]) for r in rows]


async def replace_mentions(conn: asyncpg.Connection, post_id: int, actor_ids: Sequence[int]) -> None:
    """Make the post's mentions exactly ``actor_ids``."""
    await conn.execute(
        "DELETE FROM post_mentions WHERE post_id = $1 AND NOT (actor_id = ANY($2::bigint[]))", post_id, list(actor_ids)
    )
    await conn.execute(
        """INSERT INTO post_mentions (post_id, actor_id) SELECT $1, unnest($2::bigint[])
           ON CONFLICT DO NOTHING""",
        post_id, list(actor_ids),
    )


async def mentioned_actors(conn: asyncpg.Connection, post_id: int) -> list[Actor]:
    """The actors a post mentions."""
    rows = await conn.fetch(
        f"""SELECT {ACTOR_COLUMNS} FROM actors WHERE id IN (SELECT actor_id FROM post_mentions WHERE post_id = $1)
            ORDER BY id""",
        post_id,
    )
    return [Actor(**dict(r)) for r in rows]


async def following_uris(
    conn: asyncpg.Connection, follower_id: int, limit: int, max_id: int | None = None
) -> list[tuple[int, str]]:
    """(follow id, actor id) of the actors ``follower_id`` follows (accepted), newest follow first."""
    rows = await conn.fetch(
        """SELECT f.id, a.uri FROM follows f JOIN actors a ON a.id = f.followee_id
           WHERE f.follower_id = $1 AND f.state = 'accepted' AND ($3::bigint IS NULL OR f.id < $3)
           ORDER BY f.id DESC LIMIT $2""",
        follower_id, limit, max_id,
    )
    return [(r["id"], r["uri"]) for r in rows]


async def received_activity(conn: asyncpg.Connection, activity_id: str) -> dict[str, Any] | None:
    """An activity as the inbox received it, when it is still stored."""
    payload = await conn.fetchval("SELECT payload FROM inbox_items WHERE activity_id = $1", activity_id)
    return payload if isinstance(payload, dict) else None
