"""SQL for a department's archive (``outbox.archive``) and its restore (``outbox.archive_import``).

Reads take the department's actor id; writes are idempotent (``ON CONFLICT DO NOTHING`` or a
comparison first) and say whether they changed anything, so that importing twice changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from actors.queries import ACTOR_COLUMNS, Actor
from outbox.queries import Post

_POST = ", ".join(f"p.{name}" for name in Post.__dataclass_fields__)


@dataclass(frozen=True)
class ArchivedFollow:
    """A follow between the department and another actor, with that actor."""

    uri: str
    created_at: datetime
    accepted_at: datetime | None
    other: Actor
    document: dict[str, Any] | None


@dataclass(frozen=True)
class ArchivedLike:
    """One of the department's likes and the post it likes."""

    uri: str
    created_at: datetime
    post: Post


@dataclass(frozen=True)
class ArchivedMedia:
    """An uploaded file used by one of the department's live posts."""

    file_name: str
    post_uri: str
    position: int
    content_type: str
    size: int
    width: int
    height: int
    description: str | None
    focus_x: float | None
    focus_y: float | None
    blurhash: str | None
    created_at: datetime


def _posts(rows: list[asyncpg.Record]) -> list[Post]:
    return [Post(**dict(r)) for r in rows]


async def department_posts(conn: asyncpg.Connection, author_id: int) -> list[Post]:
    """Every local post of the department, deleted ones included, oldest first."""
    return _posts(await conn.fetch(f"SELECT {_POST} FROM posts p WHERE p.author_id = $1 AND p.local ORDER BY p.id", author_id))


async def thread_replies(conn: asyncpg.Connection, author_id: int) -> list[Post]:
    """The live remote posts in the department's threads (replies to its posts, and replies to those), oldest first."""
    rows = await conn.fetch(
        f"""WITH RECURSIVE thread (id) AS (
                SELECT p.id FROM posts p WHERE p.author_id = $1 AND p.local
                UNION
                SELECT r.id FROM posts r JOIN thread t ON r.in_reply_to_id = t.id
                WHERE r.deleted_at IS NULL AND (NOT r.local OR r.author_id = $1))
            SELECT {_POST} FROM thread t JOIN posts p ON p.id = t.id
            WHERE NOT p.local ORDER BY p.id""",
        author_id,
    )
    return _posts(rows)


async def actors_by_ids(conn: asyncpg.Connection, actor_ids: Sequence[int]) -> list[tuple[Actor, dict[str, Any] | None]]:
    """Stored actors and their fetched documents (None for local actors), by id."""
    rows = await conn.fetch(
        f"SELECT {ACTOR_COLUMNS}, document FROM actors WHERE id = ANY($1::bigint[]) ORDER BY id", list(actor_ids)
    )
    out = []
    for row in rows:
        values = dict(row)
        document = values.pop("document")
        out.append((Actor(**values), document if isinstance(document, dict) else None))
    return out


async def mentioned_actor_ids(conn: asyncpg.Connection, post_ids: Sequence[int]) -> list[int]:
    """The actors the given posts mention."""
    rows = await conn.fetch("SELECT DISTINCT actor_id FROM post_mentions WHERE post_id = ANY($1::bigint[])", list(post_ids))
    return [r["actor_id"] for r in rows]


async def accepted_follows(conn: asyncpg.Connection, actor_id: int, *, followers: bool) -> list[ArchivedFollow]:
    """The department's accepted followers (``followers``) or the actors it follows, oldest follow first."""
    mine, other = ("followee_id", "follower_id") if followers else ("follower_id", "followee_id")
    rows = await conn.fetch(
        f"""SELECT f.uri AS follow_uri, f.created_at AS follow_created_at, f.accepted_at AS follow_accepted_at,
                   a.document AS follow_document, {', '.join('a.' + c for c in ACTOR_COLUMNS.split(', '))}
            FROM follows f JOIN actors a ON a.id = f.{other}
            WHERE f.{mine} = $1 AND f.state = 'accepted' ORDER BY f.id""",
        actor_id,
    )
    out = []
    for row in rows:
        values = dict(row)
        uri, created, accepted, document = (
            values.pop("follow_uri"), values.pop("follow_created_at"), values.pop("follow_accepted_at"),
            values.pop("follow_document"),
        )
        out.append(ArchivedFollow(uri, created, accepted, Actor(**values), document if isinstance(document, dict) else None))
    return out


async def department_likes(conn: asyncpg.Connection, actor_id: int) -> list[ArchivedLike]:
    """The department's likes of live posts, oldest first."""
    rows = await conn.fetch(
        f"""SELECT i.uri AS like_uri, i.created_at AS like_created_at, {_POST}
            FROM interactions i JOIN posts p ON p.id = i.post_id
            WHERE i.actor_id = $1 AND i.kind = 'like' AND p.deleted_at IS NULL ORDER BY i.id""",
        actor_id,
    )
    out = []
    for row in rows:
        values = dict(row)
        uri, created = values.pop("like_uri"), values.pop("like_created_at")
        out.append(ArchivedLike(uri, created, Post(**values)))
    return out


async def post_media(conn: asyncpg.Connection, post_ids: Sequence[int]) -> list[ArchivedMedia]:
    """The uploads attached to the given posts, by post and position."""
    rows = await conn.fetch(
        """SELECT m.file_name, p.uri AS post_uri, m.position, m.content_type, m.size, m.width, m.height, m.description,
                  m.focus_x, m.focus_y, m.blurhash, m.created_at
           FROM media_attachments m JOIN posts p ON p.id = m.post_id
           WHERE m.post_id = ANY($1::bigint[]) ORDER BY m.post_id, m.position""",
        list(post_ids),
    )
    return [ArchivedMedia(**dict(r)) for r in rows]


# Restoring.


async def advance_post_ids(conn: asyncpg.Connection, at_least: int) -> None:
    """Move the post id sequence past ``at_least`` and every stored id (never backwards)."""
    await conn.execute(
        """SELECT setval(pg_get_serial_sequence('posts', 'id'), GREATEST(
               $1::bigint, (SELECT COALESCE(max(id), 1) FROM posts),
               (SELECT last_value FROM pg_sequences WHERE schemaname = current_schema()
                  AND sequencename = split_part(pg_get_serial_sequence('posts', 'id'), '.', 2))))""",
        at_least,
    )


async def post_uri_with_id(conn: asyncpg.Connection, post_id: int) -> str | None:
    """The id (URI) of the post stored under a database id, if any."""
    return await conn.fetchval("SELECT uri FROM posts WHERE id = $1", post_id)  # type: ignore[no-any-return]


async def post_row_id(conn: asyncpg.Connection, uri: str) -> int | None:
    """The database id of a stored post, if any."""
    return await conn.fetchval("SELECT id FROM posts WHERE uri = $1", uri)  # type: ignore[no-any-return]


async def insert_post(conn: asyncpg.Connection, post_id: int | None, author_id: int, local: bool, values: dict[str, Any]) -> bool:
    """Store an archived post under ``post_id`` (or the next id); False when its URI is already stored."""
    names = [
        "uri", "object_type", "url", "in_reply_to_uri", "visibility", "source", "content_html", "summary", "sensitive",
        "language", "to_uris", "cc_uris", "tags", "attachments", "published_at", "edited_at", "deleted_at",
        "created_at",
    ]
    columns = ", ".join(names)
    placeholders = ", ".join(f"${i}" for i in range(5, 5 + len(names)))
    status = await conn.execute(
        f"""INSERT INTO posts (id, local, author_id, in_reply_to_id, {columns})
            VALUES (COALESCE($1, nextval(pg_get_serial_sequence('posts', 'id'))), $2, $3,
                    (SELECT id FROM posts WHERE uri = $4 AND $4 IS NOT NULL), {placeholders})
            ON CONFLICT (uri) DO NOTHING""",
        post_id, local, author_id, values["in_reply_to_uri"], *[values[n] for n in names],
    )
    return status != "INSERT 0 0"


async def set_pinned_at(conn: asyncpg.Connection, author_id: int, uri: str, pinned_at: datetime) -> bool:
    """Pin a live post of the department at ``pinned_at`` unless it is pinned already."""
    status = await conn.execute(
        """UPDATE posts SET pinned_at = $3 WHERE uri = $2 AND author_id = $1 AND local AND deleted_at IS NULL
             AND pinned_at IS NULL""",
        author_id, uri, pinned_at,
    )
    return status != "UPDATE 0"


async def link_replies(conn: asyncpg.Connection, uris: Sequence[str]) -> None:
    """Point each of the posts at the stored post it replies to, where that link is missing."""
    await conn.execute(
        """UPDATE posts p SET in_reply_to_id = parent.id FROM posts parent
           WHERE p.uri = ANY($1::text[]) AND p.in_reply_to_id IS NULL AND parent.uri = p.in_reply_to_uri""",
        list(uris),
    )


async def add_mentions(conn: asyncpg.Connection, post_uri: str, actor_uris: Sequence[str]) -> None:
    """Record the post's mentions of the stored actors among ``actor_uris``."""
    await conn.execute(
        """INSERT INTO post_mentions (post_id, actor_id)
           SELECT p.id, a.id FROM posts p, actors a WHERE p.uri = $1 AND a.uri = ANY($2::text[])
           ON CONFLICT DO NOTHING""",
        post_uri, list(actor_uris),
    )


async def insert_follow(
    conn: asyncpg.Connection, uri: str, follower_id: int, followee_id: int, created_at: datetime, accepted_at: datetime
) -> int | None:
    """Store an accepted follow; its row id, or None when the follow (or one between the two) is stored."""
    return await conn.fetchval(  # type: ignore[no-any-return]
        """INSERT INTO follows (uri, follower_id, followee_id, state, created_at, accepted_at)
           VALUES ($1, $2, $3, 'accepted', $4, $5) ON CONFLICT DO NOTHING RETURNING id""",
        uri, follower_id, followee_id, created_at, accepted_at,
    )


async def date_follow_records(conn: asyncpg.Connection, followee_id: int, follow_ids: Sequence[int]) -> None:
    """Give the follower log and the notifications of restored follows their original times, not the import's."""
    if not follow_ids:
        return
    await conn.execute(
        """UPDATE notifications n SET created_at = f.accepted_at FROM follows f
           WHERE n.follow_id = f.id AND f.id = ANY($1::bigint[])""",
        list(follow_ids),
    )
    # The +1 events the trigger just logged are the newest of the department's; pair them with the follows by order.
    await conn.execute(
        """WITH fresh AS (
               SELECT id, row_number() OVER (ORDER BY id) AS n FROM (
                   SELECT id FROM follow_events WHERE followee_id = $1 AND delta = 1 ORDER BY id DESC LIMIT $3) newest),
           restored AS (
               SELECT accepted_at, row_number() OVER (ORDER BY accepted_at, id) AS n FROM follows
               WHERE id = ANY($2::bigint[]))
           UPDATE follow_events e SET occurred_at = restored.accepted_at
           FROM fresh JOIN restored USING (n) WHERE e.id = fresh.id""",
        followee_id, list(follow_ids), len(follow_ids),
    )


async def date_post_notifications(conn: asyncpg.Connection, uris: Sequence[str]) -> None:
    """Give the notifications of restored posts the time the posts arrived, not the import's."""
    await conn.execute(
        """UPDATE notifications n SET created_at = p.created_at FROM posts p
           WHERE n.post_id = p.id AND p.uri = ANY($1::text[])""",
        list(uris),
    )


async def insert_like(conn: asyncpg.Connection, uri: str, actor_id: int, post_uri: str, created_at: datetime) -> bool:
    """Store a like of a stored post; False when it is stored already (or the post is missing)."""
    status = await conn.execute(
        """INSERT INTO interactions (uri, kind, actor_id, post_id, created_at)
           SELECT $1, 'like', $2, p.id, $4 FROM posts p WHERE p.uri = $3
           ON CONFLICT DO NOTHING""",
        uri, actor_id, post_uri, created_at,
    )
    return status != "INSERT 0 0"


async def date_like_notifications(conn: asyncpg.Connection, uris: Sequence[str]) -> None:
    """Give the notifications of restored likes their original times."""
    await conn.execute(
        """UPDATE notifications n SET created_at = i.created_at FROM interactions i
           WHERE n.interaction_id = i.id AND i.uri = ANY($1::text[])""",
        list(uris),
    )


async def insert_media(conn: asyncpg.Connection, actor_id: int, values: dict[str, Any]) -> bool:
    """Store an upload of the department attached to a stored post; False when the file name is stored already."""
    status = await conn.execute(
        """INSERT INTO media_attachments (actor_id, post_id, position, kind, content_type, file_name, size, width, height,
               description, focus_x, focus_y, blurhash, created_at)
           SELECT $1, p.id, $3, 'image', $4, $5, $6, $7, $8, $9, $10, $11, $12, $13 FROM posts p WHERE p.uri = $2
           ON CONFLICT (file_name) DO NOTHING""",
        actor_id, values["post_uri"], values["position"], values["content_type"], values["file_name"], values["size"],
        values["width"], values["height"], values["description"], values["focus_x"], values["focus_y"],
        values["blurhash"], values["created_at"],
    )
    return status != "INSERT 0 0"


async def set_actor_times(conn: asyncpg.Connection, actor_id: int, created_at: datetime, updated_at: datetime) -> None:
    """Give a restored department the times it had (its page says since when it is on the fediverse; feeds when it changed)."""
    await conn.execute(
        "UPDATE actors SET created_at = $2, updated_at = $3 WHERE id = $1 AND local", actor_id, created_at, updated_at
    )
