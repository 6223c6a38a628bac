"""SQL for the inbox queue and for what handlers store from remote servers.

Every function takes the caller's connection first and returns frozen dataclasses. ``inbox_items``
rows move ``pending -> done`` or ``pending -> failed`` (after the retries run out); a claim bumps
``attempts`` and locks the row until ``locked_until``, after which it may be claimed again.
Remote posts, interactions, blocks and reports are inserted with ``ON CONFLICT DO NOTHING`` so that
replaying an activity changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

PENDING, DONE, FAILED = "pending", "done", "failed"


@dataclass(frozen=True)
class InboxItem:
    """A received activity claimed for processing; ``attempts`` counts this one."""

    id: int
    activity_id: str
    activity_type: str
    actor_uri: str
    recipient_id: int | None
    payload: dict[str, Any]
    attempts: int


@dataclass(frozen=True)
class NewItem:
    """A received activity to queue; ``payload`` is its JSON text."""

    activity_id: str
    activity_type: str
    actor_uri: str
    recipient_id: int | None
    payload: str


@dataclass(frozen=True)
class PostRef:
    """What handlers need to know about a stored post (local or remote)."""

    id: int
    uri: str
    local: bool
    author_id: int
    visibility: str
    deleted_at: datetime | None


@dataclass(frozen=True)
class RemotePost:
    """The columns of a remote post as read from its Note (or Question, Article, Page)."""

    uri: str
    object_type: str
    url: str | None
    in_reply_to_uri: str | None
    visibility: str
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


@dataclass(frozen=True)
class ReportEntry:
    """A report (Flag) as admins list it."""

    id: int
    uri: str
    created_at: datetime
    reporter: str
    target: str | None
    post_ids: list[int]
    content: str
    resolved_at: datetime | None


# The inbox queue.


async def store_item(
    conn: asyncpg.Connection, activity_id: str, activity_type: str, actor_uri: str, recipient_id: int | None,
    payload: dict[str, Any],
) -> bool:
    """Queue a received activity unless its id is already stored; True if it was new."""
    status = await conn.execute(
        """INSERT INTO inbox_items (activity_id, activity_type, actor_uri, recipient_id, payload)
           VALUES ($1, $2, $3, $4, $5) ON CONFLICT (activity_id) DO NOTHING""",
        activity_id, activity_type, actor_uri, recipient_id, payload,
    )
    return status == "INSERT 0 1"


async def store_items(
    conn: asyncpg.Connection, items: Sequence[NewItem], hosts: Sequence[str], wake_channel: str
) -> tuple[set[str], list[str]]:
    """Queue received activities in one statement, each id once (its first item); the ids that were new and
    those of ``hosts`` the delivery side counts as failing or paused. A NOTIFY on ``wake_channel`` goes out
    (at commit) when any was new.

    A recipient deleted meanwhile is stored as none, as its deletion would have left it.
    """
    rows = await conn.fetch(
        """WITH batch AS (
               SELECT DISTINCT ON (activity_id) activity_id, activity_type, actor_uri, recipient_id, payload, n
               FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[])
                    WITH ORDINALITY AS b (activity_id, activity_type, actor_uri, recipient_id, payload, n)
               ORDER BY activity_id, n),
           stored AS (
               INSERT INTO inbox_items (activity_id, activity_type, actor_uri, recipient_id, payload)
               SELECT b.activity_id, b.activity_type, b.actor_uri, a.id, b.payload::jsonb
               FROM batch b LEFT JOIN actors a ON a.id = b.recipient_id
               ORDER BY b.n
               ON CONFLICT (activity_id) DO NOTHING
               RETURNING activity_id),
           woken AS (SELECT pg_notify($7, '') FROM (SELECT 1 FROM stored LIMIT 1) AS any_stored)
           SELECT activity_id, NULL::text AS failing FROM stored
           UNION ALL
           SELECT NULL, host FROM hosts WHERE host = ANY($6::text[])
             AND (consecutive_failures > 0 OR failing_since IS NOT NULL OR unavailable_until IS NOT NULL)
           UNION ALL
           SELECT NULL, NULL FROM woken""",
        [i.activity_id for i in items], [i.activity_type for i in items], [i.actor_uri for i in items],
        [i.recipient_id for i in items], [i.payload for i in items], list(hosts), wake_channel,
    )
    stored = {r["activity_id"] for r in rows if r["activity_id"] is not None}
    return stored, sorted(r["failing"] for r in rows if r["failing"] is not None)


async def claim_items(conn: asyncpg.Connection, limit: int, lock_seconds: float) -> list[InboxItem]:
    """Lock up to ``limit`` due items (pending, unlocked or with an expired lock), oldest first."""
    rows = await conn.fetch(
        """WITH due AS (
               SELECT id FROM inbox_items
               WHERE state = 'pending' AND next_attempt_at <= now()
                 AND (locked_until IS NULL OR locked_until < now())
               ORDER BY next_attempt_at, id LIMIT $1 FOR UPDATE SKIP LOCKED)
           UPDATE inbox_items i SET locked_until = now() + $2 * interval '1 second', attempts = i.attempts + 1
           FROM due WHERE i.id = due.id
           RETURNING i.id, i.activity_id, i.activity_type, i.actor_uri, i.recipient_id, i.payload, i.attempts""",
        limit, lock_seconds,
    )
    return sorted((InboxItem(**dict(r)) for r in rows), key=lambda item: item.id)


async def lock_claimed_item(conn: asyncpg.Connection, item: InboxItem) -> bool:
    """Hold the row for this transaction; False when it was done, failed or claimed again meanwhile."""
    return bool(
        await conn.fetchval(
            "SELECT true FROM inbox_items WHERE id = $1 AND state = 'pending' AND attempts = $2 FOR UPDATE",
            item.id, item.attempts,
        )
    )


async def mark_done(conn: asyncpg.Connection, item_id: int) -> None:
    """Record that an item was processed."""
    await conn.execute(
        """UPDATE inbox_items SET state = 'done', processed_at = now(), locked_until = NULL, last_error = NULL
           WHERE id = $1""",
        item_id,
    )


async def record_failure(conn: asyncpg.Connection, item: InboxItem, error: str, retry_in: float | None) -> None:
    """Record an error: retry in ``retry_in`` seconds, or give up (``failed``) when it is None."""
    await conn.execute(
        """UPDATE inbox_items SET last_error = $3, locked_until = NULL,
               state = CASE WHEN $4::float8 IS NULL THEN 'failed' ELSE 'pending' END,
               processed_at = CASE WHEN $4::float8 IS NULL THEN now() END,
               next_attempt_at = CASE WHEN $4::float8 IS NULL THEN next_attempt_at
                                      ELSE now() + $4::float8 * interval '1 second' END
           WHERE id = $1 AND attempts = $2 AND state = 'pending'""",
        item.id, item.attempts, error, retry_in,
    )


# Posts.

_POST_REF = "id, uri, local, author_id, visibility, deleted_at"


async def post_by_uri(conn: asyncpg.Connection, uri: str) -> PostRef | None:
    """A stored post by its id."""
    row = await conn.fetchrow(f"SELECT {_POST_REF} FROM posts WHERE uri = $1", uri)
    return None if row is None else PostRef(**dict(row))


async def local_post_by_reference(conn: asyncpg.Connection, reference: str) -> PostRef | None:
    """A local post named by its id or by its web address (some servers announce the latter)."""
    row = await conn.fetchrow(
        f"""SELECT {_POST_REF} FROM posts WHERE local AND (uri = $1 OR url = $1)
            ORDER BY uri = $1 DESC LIMIT 1""",
        reference,
    )
    return None if row is None else PostRef(**dict(row))


async def local_posts_among(conn: asyncpg.Connection, uris: Sequence[str]) -> list[PostRef]:
    """The local posts among ``uris``."""
    rows = await conn.fetch(f"SELECT {_POST_REF} FROM posts WHERE local AND uri = ANY($1::text[]) ORDER BY id", list(uris))
    return [PostRef(**dict(r)) for r in rows]


async def insert_remote_post(
    conn: asyncpg.Connection, post: RemotePost, author_id: int, in_reply_to_id: int | None
) -> PostRef | None:
    """Store a remote post; None when its id is already stored (a replay changes nothing)."""
    row = await conn.fetchrow(
        f"""INSERT INTO posts (uri, local, author_id, object_type, url, in_reply_to_uri, in_reply_to_id, visibility,
                content_html, summary, sensitive, language, to_uris, cc_uris, tags, attachments, published_at,
                edited_at)
            VALUES ($1, false, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
            ON CONFLICT (uri) DO NOTHING RETURNING {_POST_REF}""",
        post.uri, author_id, post.object_type, post.url, post.in_reply_to_uri, in_reply_to_id, post.visibility,
        post.content_html, post.summary, post.sensitive, post.language, post.to_uris, post.cc_uris, post.tags,
        post.attachments, post.published_at, post.edited_at,
    )
    return None if row is None else PostRef(**dict(row))


async def update_remote_post(conn: asyncpg.Connection, post_id: int, post: RemotePost) -> None:
    """Rewrite a remote post after an edit; a deleted post stays deleted, an older edit changes nothing."""
    await conn.execute(
        """UPDATE posts SET object_type = $2, url = $3, visibility = $4, content_html = $5, summary = $6,
               sensitive = $7, language = $8, to_uris = $9, cc_uris = $10, tags = $11, attachments = $12,
               edited_at = COALESCE($13, now())
           WHERE id = $1 AND NOT local AND deleted_at IS NULL
             AND ($13::timestamptz IS NULL OR edited_at IS NULL OR edited_at < $13)""",
        post_id, post.object_type, post.url, post.visibility, post.content_html, post.summary, post.sensitive,
        post.language, post.to_uris, post.cc_uris, post.tags, post.attachments, post.edited_at,
    )


async def delete_remote_post(conn: asyncpg.Connection, post_id: int) -> None:
    """Keep a deleted remote post as a tombstone (threads stay linked); its content and mentions go."""
    await conn.execute(
        """UPDATE posts SET deleted_at = COALESCE(deleted_at, now()), content_html = '', summary = '',
               tags = '[]', attachments = '[]', url = NULL
           WHERE id = $1 AND NOT local""",
        post_id,
    )
    await conn.execute("DELETE FROM post_mentions WHERE post_id = $1", post_id)


async def replace_mentions(conn: asyncpg.Connection, post_id: int, actor_uris: Sequence[str]) -> None:
    """Make a post's mentions the stored actors among ``actor_uris`` (unknown ones are not fetched)."""
    await conn.execute("DELETE FROM post_mentions WHERE post_id = $1", post_id)
    await conn.execute(
        """INSERT INTO post_mentions (post_id, actor_id)
           SELECT $1, id FROM actors WHERE uri = ANY($2::text[]) ON CONFLICT DO NOTHING""",
        post_id, list(actor_uris),
    )


async def departments_among(conn: asyncpg.Connection, uris: Sequence[str]) -> list[int]:
    """Ids of the live departments whose actor ids are among ``uris``."""
    rows = await conn.fetch(
        """SELECT id FROM actors WHERE local AND actor_type = 'Organization' AND deleted_at IS NULL
             AND uri = ANY($1::text[]) ORDER BY id""",
        list(uris),
    )
    return [r["id"] for r in rows]


# Interactions with local posts: likes, boosts, emoji reactions.


async def insert_interaction(
    conn: asyncpg.Connection, uri: str, kind: str, actor_id: int, post_id: int, content: str = "",
    emoji_url: str | None = None,
) -> bool:
    """Record a Like, Announce or reaction; False when it (or the same one under another id) is stored."""
    status = await conn.execute(
        """INSERT INTO interactions (uri, kind, actor_id, post_id, content, emoji_url)
           VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING""",
        uri, kind, actor_id, post_id, content, emoji_url,
    )
    return status == "INSERT 0 1"


async def delete_interaction(conn: asyncpg.Connection, uri: str, actor_id: int) -> bool:
    """Remove an interaction by its activity id, only the actor's own; True if one went."""
    return await conn.execute("DELETE FROM interactions WHERE uri = $1 AND actor_id = $2", uri, actor_id) != "DELETE 0"


async def delete_interaction_on(
    conn: asyncpg.Connection, kind: str, actor_id: int, post_id: int, content: str | None = None
) -> bool:
    """Remove the actor's interaction of ``kind`` with a post (with that content, when given)."""
    status = await conn.execute(
        """DELETE FROM interactions WHERE kind = $1 AND actor_id = $2 AND post_id = $3
             AND ($4::text IS NULL OR content = $4)""",
        kind, actor_id, post_id, content,
    )
    return status != "DELETE 0"


async def interaction_uri_exists(conn: asyncpg.Connection, uri: str) -> bool:
    """Whether an interaction with this activity id is stored."""
    return bool(await conn.fetchval("SELECT EXISTS (SELECT 1 FROM interactions WHERE uri = $1)", uri))


# Blocks of departments by remote actors.


async def insert_block(conn: asyncpg.Connection, uri: str, blocker_id: int, blocked_id: int) -> bool:
    """Record that a remote actor blocks a department; False when already recorded."""
    status = await conn.execute(
        "INSERT INTO blocks (uri, blocker_id, blocked_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        uri, blocker_id, blocked_id,
    )
    return status == "INSERT 0 1"


async def delete_block(conn: asyncpg.Connection, blocker_id: int, uri: str, blocked_id: int | None) -> bool:
    """Remove the actor's block named by its activity id, or else the one of ``blocked_id``."""
    status = await conn.execute(
        "DELETE FROM blocks WHERE blocker_id = $1 AND (uri = $2 OR blocked_id = $3)", blocker_id, uri, blocked_id
    )
    return status != "DELETE 0"


async def block_uri_exists(conn: asyncpg.Connection, uri: str) -> bool:
    """Whether a block with this activity id is stored."""
    return bool(await conn.fetchval("SELECT EXISTS (SELECT 1 FROM blocks WHERE uri = $1)", uri))


# Reports (Flag) for admins.


async def insert_report(
    conn: asyncpg.Connection, uri: str, reporter_id: int, target_id: int | None, post_ids: Sequence[int],
    content: str, payload: dict[str, Any],
) -> bool:
    """Store a report; False when its id is already stored."""
    status = await conn.execute(
        """INSERT INTO reports (uri, reporter_id, target_id, post_ids, content, payload)
           VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (uri) DO NOTHING""",
        uri, reporter_id, target_id, list(post_ids), content, payload,
    )
    return status == "INSERT 0 1"


async def list_reports(conn: asyncpg.Connection, unresolved_only: bool = False, limit: int = 100) -> list[ReportEntry]:
    """Reports newest first, with the reporter's handle and the reported department's username."""
    rows = await conn.fetch(
        """SELECT r.id, r.uri, r.created_at, rep.username || '@' || rep.domain AS reporter,
                  t.username AS target, r.post_ids, r.content, r.resolved_at
           FROM reports r JOIN actors rep ON rep.id = r.reporter_id LEFT JOIN actors t ON t.id = r.target_id
           WHERE NOT $1 OR r.resolved_at IS NULL
           ORDER BY r.id DESC LIMIT $2""",
        unresolved_only, limit,
    )
    return [ReportEntry(**dict(r)) for r in rows]
