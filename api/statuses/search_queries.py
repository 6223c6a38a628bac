"""SQL for search: accounts by handle or name, posts by address or words, hashtags by prefix."""

from __future__ import annotations

import asyncpg

from actors.queries import ACTOR_COLUMNS, Actor
from api.statuses.queries import POST_COLUMNS, posts_of, visible
from outbox.queries import Post


def _like(words: str) -> str:
    """A LIKE pattern matching ``words`` literally."""
    return words.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def actor_by_address(conn: asyncpg.Connection, address: str) -> Actor | None:
    """A live stored actor whose id or profile URL is ``address``."""
    row = await conn.fetchrow(
        f"""SELECT {ACTOR_COLUMNS} FROM actors WHERE (uri = $1 OR url = $1) AND deleted_at IS NULL
            ORDER BY uri = $1 DESC LIMIT 1""",
        address,
    )
    return None if row is None else Actor(**dict(row))


async def actors_matching(conn: asyncpg.Connection, words: str, limit: int, offset: int) -> list[Actor]:
    """Live, discoverable departments and known accounts whose username starts with, or name contains, ``words``."""
    rows = await conn.fetch(
        f"""SELECT {ACTOR_COLUMNS} FROM actors
            WHERE deleted_at IS NULL AND actor_type <> 'Application' AND discoverable
              AND (lower(username) LIKE lower($1) || '%' OR display_name ILIKE '%' || $1 || '%')
            ORDER BY local DESC, lower(username) = lower($2) DESC, username, id LIMIT $3 OFFSET $4""",
        _like(words), words, limit, offset,
    )
    return [Actor(**dict(r)) for r in rows]


async def post_by_address(conn: asyncpg.Connection, address: str, viewer_id: int | None) -> Post | None:
    """A visible stored post whose id or page URL is ``address``."""
    row = await conn.fetchrow(
        f"""SELECT {POST_COLUMNS} FROM posts p WHERE (p.uri = $1 OR p.url = $1) AND {visible('$2')}
            ORDER BY p.uri = $1 DESC LIMIT 1""",
        address, viewer_id,
    )
    return None if row is None else Post(**dict(row))


async def posts_matching(conn: asyncpg.Connection, words: str, viewer_id: int, limit: int, offset: int) -> list[Post]:
    """Visible posts whose text or content warning contains ``words``, newest first."""
    rows = await conn.fetch(
        f"""SELECT {POST_COLUMNS} FROM posts p
            WHERE {visible('$1')} AND (p.content_html ILIKE '%' || $2 || '%' OR p.summary ILIKE '%' || $2 || '%')
            ORDER BY p.id DESC LIMIT $3 OFFSET $4""",
        viewer_id, _like(words), limit, offset,
    )
    return posts_of(rows)


async def hashtags_matching(conn: asyncpg.Connection, prefix: str, limit: int, offset: int) -> list[str]:
    """Hashtags used in live public posts that start with ``prefix``, most used first."""
    rows = await conn.fetch(
        """SELECT lower(substr(t->>'name', 2)) AS name, count(*) AS uses
           FROM posts p, jsonb_array_elements(p.tags) t
           WHERE p.deleted_at IS NULL AND p.visibility = 'public' AND t->>'type' = 'Hashtag'
             AND lower(t->>'name') LIKE '#' || lower($1) || '%'
           GROUP BY 1 ORDER BY uses DESC, name LIMIT $2 OFFSET $3""",
        _like(prefix), limit, offset,
    )
    return [r["name"] for r in rows]
