"""SQL for timelines: a department's home, the public timeline, and one account's statuses.

Every list pages on post id, newest first (local and remote posts share one id sequence, so ids follow
the order posts were stored in), and shows only posts the viewer may see.
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from api.pagination import Page
from api.statuses.queries import POST_COLUMNS, posts_of, visible, window
from outbox.queries import Post


@dataclass(frozen=True)
class AccountFilter:
    """The options of GET /api/v1/accounts/:id/statuses."""

    pinned: bool = False
    only_media: bool = False
    exclude_replies: bool = False
    tagged: str | None = None


async def home(conn: asyncpg.Connection, department_id: int, page: Page) -> list[Post]:
    """The department's own posts and the replies and mentions it received."""
    tail, args = window(page, 2)
    rows = await conn.fetch(
        f"""SELECT {POST_COLUMNS} FROM posts p
            WHERE {visible('$1')} AND (
                p.author_id = $1
                OR EXISTS (SELECT 1 FROM posts parent WHERE parent.id = p.in_reply_to_id AND parent.author_id = $1)
                OR EXISTS (SELECT 1 FROM post_mentions m WHERE m.post_id = p.id AND m.actor_id = $1)){tail}""",
        department_id, *args,
    )
    return posts_of(rows, page)


async def public(conn: asyncpg.Connection, page: Page, only_media: bool) -> list[Post]:
    """The departments' live public posts."""
    tail, args = window(page, 2)
    rows = await conn.fetch(
        f"""SELECT {POST_COLUMNS} FROM posts p
            WHERE p.local AND p.visibility = 'public' AND p.deleted_at IS NULL
              AND (NOT $1 OR jsonb_array_length(p.attachments) > 0){tail}""",
        only_media, *args,
    )
    return posts_of(rows, page)


async def of_account(
    conn: asyncpg.Connection, author_id: int, viewer_id: int | None, options: AccountFilter, page: Page
) -> list[Post]:
    """One account's statuses the viewer may see, filtered as asked."""
    tail, args = window(page, 7)
    rows = await conn.fetch(
        f"""SELECT {POST_COLUMNS} FROM posts p
            WHERE p.author_id = $1 AND {visible('$2')}
              AND (NOT $3 OR p.pinned_at IS NOT NULL)
              AND (NOT $4 OR jsonb_array_length(p.attachments) > 0)
              AND (NOT $5 OR p.in_reply_to_uri IS NULL
                   OR EXISTS (SELECT 1 FROM posts parent WHERE parent.id = p.in_reply_to_id AND parent.author_id = $1))
              AND ($6::text IS NULL OR EXISTS (
                   SELECT 1 FROM jsonb_array_elements(p.tags) t
                   WHERE t->>'type' = 'Hashtag' AND lower(t->>'name') = lower('#' || $6))){tail}""",
        author_id, viewer_id, options.pinned, options.only_media, options.exclude_replies, options.tagged, *args,
    )
    return posts_of(rows, page)
