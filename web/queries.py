"""SQL for the public pages and feeds: each function takes the caller's connection first.

An *update* is what a department's page, archive and feeds list: a live, public, local post that
is not a reply to someone else (a reply in the department's own thread is an update; an answer to a
citizen shows under the post it answers). Threads show public and unlisted replies, as Mastodon
does, except those of actors the department blocks. Remote URLs are only returned when http(s).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import asyncpg

from actors.queries import DEPARTMENT_TYPE

DIRECTORY_LIMIT = 500
THREAD_LIMIT = 300
THREAD_DEPTH = 30

UPDATE = """p.local AND p.deleted_at IS NULL AND p.visibility = 'public'
    AND (p.in_reply_to_uri IS NULL
         OR EXISTS (SELECT 1 FROM posts parent WHERE parent.id = p.in_reply_to_id AND parent.author_id = p.author_id))"""
_SHOWN_REPLY = """r.deleted_at IS NULL AND r.visibility IN ('public', 'unlisted')
    AND NOT EXISTS (SELECT 1 FROM blocks b WHERE b.blocker_id = {department} AND b.blocked_id = r.author_id)"""
_WEB_URL = "CASE WHEN {0} ~* '^https?://' THEN {0} END"
_ENTRY = f"""p.id, p.uri, {_WEB_URL.format('p.url')} AS url, p.local, p.author_id, p.in_reply_to_id, p.visibility,
    p.content_html, p.summary, p.sensitive, p.language, p.attachments, p.published_at, p.edited_at, p.deleted_at,
    a.username AS author_username, a.domain AS author_domain, a.display_name AS author_name,
    a.local AS author_local, {_WEB_URL.format('COALESCE(a.url, a.uri)')} AS author_url,
    (SELECT count(*) FROM posts r WHERE r.in_reply_to_id = p.id
       AND {_SHOWN_REPLY.format(department='p.author_id')}) AS replies"""
_FROM = "FROM posts p JOIN actors a ON a.id = p.author_id"


@dataclass(frozen=True)
class Entry:
    """A post as the pages and feeds show it, with its author; ``depth`` is its level in a thread."""

    id: int
    uri: str
    url: str | None
    local: bool
    author_id: int
    in_reply_to_id: int | None
    visibility: str
    content_html: str
    summary: str
    sensitive: bool
    language: str | None
    attachments: list[dict[str, Any]]
    published_at: datetime
    edited_at: datetime | None
    deleted_at: datetime | None
    author_username: str
    author_domain: str
    author_name: str
    author_local: bool
    author_url: str | None
    replies: int
    depth: int = 0

    @property
    def updated_at(self) -> datetime:
        """When the post last changed: its edit, or else its publication."""
        return self.edited_at or self.published_at


@dataclass(frozen=True)
class DirectoryEntry:
    """A department as the front page lists it."""

    username: str
    display_name: str
    summary: str
    area: str
    avatar_url: str | None
    last_update_at: datetime | None


@dataclass(frozen=True)
class DayCount:
    """How many updates a department published on one day."""

    day: date
    updates: int


def _entries(rows: list[asyncpg.Record]) -> list[Entry]:
    return [Entry(**dict(r)) for r in rows]


async def directory(conn: asyncpg.Connection, search: str = "") -> list[DirectoryEntry]:
    """Live, discoverable departments by area then name; ``search`` filters on name, username and summary."""
    rows = await conn.fetch(
        f"""SELECT a.username, a.display_name, a.summary, a.area, a.avatar_url,
                   (SELECT max(p.published_at) FROM posts p WHERE p.author_id = a.id AND {UPDATE}) AS last_update_at
            FROM actors a
            WHERE a.local AND a.actor_type = $1 AND a.deleted_at IS NULL AND a.discoverable
              AND ($2 = '' OR strpos(lower(a.display_name), lower($2)) > 0 OR strpos(lower(a.username), lower($2)) > 0
                   OR strpos(lower(a.summary), lower($2)) > 0)
            ORDER BY a.area = '', lower(a.area), lower(COALESCE(NULLIF(a.display_name, ''), a.username))
            LIMIT $3""",
        DEPARTMENT_TYPE, search, DIRECTORY_LIMIT,
    )
    return [DirectoryEntry(**dict(r)) for r in rows]


async def local_entry(conn: asyncpg.Connection, author_id: int, post_id: int) -> Entry | None:
    """A local post of ``author_id``, deleted or not, whatever its visibility."""
    row = await conn.fetchrow(
        f"SELECT {_ENTRY} {_FROM} WHERE p.id = $1 AND p.author_id = $2 AND p.local", post_id, author_id
    )
    return None if row is None else Entry(**dict(row))


async def updates(conn: asyncpg.Connection, author_id: int, limit: int, max_id: int | None = None) -> list[Entry]:
    """A department's updates, newest first, older than ``max_id`` when given."""
    rows = await conn.fetch(
        f"""SELECT {_ENTRY} {_FROM} WHERE p.author_id = $1 AND {UPDATE} AND ($2::bigint IS NULL OR p.id < $2)
            ORDER BY p.id DESC LIMIT $3""",
        author_id, max_id, limit,
    )
    return _entries(rows)


async def pinned_updates(conn: asyncpg.Connection, author_id: int) -> list[Entry]:
    """A department's pinned public posts, most recently pinned first."""
    rows = await conn.fetch(
        f"""SELECT {_ENTRY} {_FROM} WHERE p.author_id = $1 AND p.pinned_at IS NOT NULL AND {UPDATE}
            ORDER BY p.pinned_at DESC, p.id DESC""",
        author_id,
    )
    return _entries(rows)


async def count_updates(conn: asyncpg.Connection, author_id: int) -> int:
    """How many updates a department has published."""
    return int(await conn.fetchval(f"SELECT count(*) FROM posts p WHERE p.author_id = $1 AND {UPDATE}", author_id))


async def organisation_updates(conn: asyncpg.Connection, limit: int) -> list[Entry]:
    """The latest updates of every live department, newest first."""
    rows = await conn.fetch(
        f"""SELECT {_ENTRY} {_FROM}
            WHERE {UPDATE} AND a.actor_type = $1 AND a.deleted_at IS NULL
            ORDER BY p.published_at DESC, p.id DESC LIMIT $2""",
        DEPARTMENT_TYPE, limit,
    )
    return _entries(rows)


async def updates_between(conn: asyncpg.Connection, author_id: int, start: datetime, end: datetime) -> list[Entry]:
    """A department's updates published in [start, end), oldest first."""
    rows = await conn.fetch(
        f"""SELECT {_ENTRY} {_FROM}
            WHERE p.author_id = $1 AND {UPDATE} AND p.published_at >= $2 AND p.published_at < $3
            ORDER BY p.published_at, p.id""",
        author_id, start, end,
    )
    return _entries(rows)


async def update_days(conn: asyncpg.Connection, author_id: int) -> list[DayCount]:
    """Every UTC day on which a department published updates, newest first, with their number."""
    rows = await conn.fetch(
        f"""SELECT (p.published_at AT TIME ZONE 'UTC')::date AS day, count(*) AS updates
            FROM posts p WHERE p.author_id = $1 AND {UPDATE} GROUP BY 1 ORDER BY 1 DESC""",
        author_id,
    )
    return [DayCount(**dict(r)) for r in rows]


async def neighbour_days(
    conn: asyncpg.Connection, author_id: int, start: datetime, end: datetime
) -> tuple[date | None, date | None]:
    """The nearest UTC days with updates before ``start`` and from ``end`` on."""
    row = await conn.fetchrow(
        f"""SELECT (SELECT (max(p.published_at) AT TIME ZONE 'UTC')::date FROM posts p
                    WHERE p.author_id = $1 AND {UPDATE} AND p.published_at < $2) AS previous,
                   (SELECT (min(p.published_at) AT TIME ZONE 'UTC')::date FROM posts p
                    WHERE p.author_id = $1 AND {UPDATE} AND p.published_at >= $3) AS following""",
        author_id, start, end,
    )
    return row["previous"], row["following"]


async def thread(conn: asyncpg.Connection, post_id: int, department_id: int) -> list[Entry]:
    """The shown replies under a post, depth first, each after its parent (oldest sibling first)."""
    rows = await conn.fetch(
        f"""WITH RECURSIVE thread (id, depth, path) AS (
                SELECT r.id, 1, ARRAY[r.id] FROM posts r
                WHERE r.in_reply_to_id = $1 AND {_SHOWN_REPLY.format(department='$2')}
                UNION ALL
                SELECT r.id, t.depth + 1, t.path || r.id FROM posts r JOIN thread t ON r.in_reply_to_id = t.id
                WHERE t.depth < $3 AND {_SHOWN_REPLY.format(department='$2')})
            SELECT {_ENTRY}, t.depth FROM thread t JOIN posts p ON p.id = t.id JOIN actors a ON a.id = p.author_id
            ORDER BY t.path LIMIT $4""",
        post_id, department_id, THREAD_DEPTH, THREAD_LIMIT,
    )
    return _entries(rows)


async def ancestors(conn: asyncpg.Connection, post_id: int, department_id: int) -> list[Entry]:
    """The shown posts a post replies to, the thread's start first; the chain stops at a hidden one."""
    rows = await conn.fetch(
        f"""WITH RECURSIVE up (id, n) AS (
                SELECT in_reply_to_id, 1 FROM posts WHERE id = $1 AND in_reply_to_id IS NOT NULL
                UNION ALL
                SELECT r.in_reply_to_id, up.n + 1 FROM up JOIN posts r ON r.id = up.id
                WHERE up.n < $3 AND r.in_reply_to_id IS NOT NULL AND {_SHOWN_REPLY.format(department='$2')})
            SELECT {_ENTRY} FROM up JOIN posts p ON p.id = up.id JOIN actors a ON a.id = p.author_id
            WHERE p.deleted_at IS NULL AND p.visibility IN ('public', 'unlisted')
              AND NOT EXISTS (SELECT 1 FROM blocks b WHERE b.blocker_id = $2 AND b.blocked_id = p.author_id)
            ORDER BY up.n DESC""",
        post_id, department_id, THREAD_DEPTH,
    )
    return _entries(rows)


async def last_change(conn: asyncpg.Connection, author_id: int | None = None) -> datetime | None:
    """When the feed of one department (or of all, for None) last changed: a post, an edit, a deletion, a profile.

    With no department at all, the feed started when the server was installed (its first migration).
    """
    argument: object = DEPARTMENT_TYPE if author_id is None else author_id
    posts, actors = (
        ("p.local", "a.local AND a.actor_type = $1") if author_id is None else ("p.local AND p.author_id = $1", "a.id = $1")
    )
    return await conn.fetchval(
        f"""SELECT COALESCE(GREATEST(
                (SELECT max(GREATEST(p.published_at, p.edited_at, p.deleted_at)) FROM posts p WHERE {posts}),
                (SELECT max(GREATEST(a.updated_at, a.deleted_at)) FROM actors a WHERE {actors})),
                (SELECT min(applied_at) FROM schema_migrations))""",
        argument,
    )
