"""SQL for the staff view: a department's citizen replies that no one has answered yet.

A reply is *answered* once the department posts a reply to it (any visibility, not deleted), as in
``web.transparency_queries``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg


@dataclass(frozen=True)
class Waiting:
    """A citizen's reply waiting for an answer, with the department post it replies to."""

    id: int
    uri: str
    url: str | None
    content_html: str
    visibility: str
    created_at: datetime
    author_username: str
    author_domain: str
    author_name: str
    parent_id: int


_UNANSWERED = """
    FROM posts r
    JOIN posts parent ON parent.id = r.in_reply_to_id AND parent.author_id = $1
    JOIN actors a ON a.id = r.author_id
    WHERE NOT r.local AND r.deleted_at IS NULL
      AND NOT EXISTS (SELECT 1 FROM blocks b WHERE b.blocker_id = $1 AND b.blocked_id = r.author_id)
      AND NOT EXISTS (SELECT 1 FROM posts answer WHERE answer.local AND answer.author_id = $1
                        AND answer.deleted_at IS NULL AND answer.in_reply_to_uri = r.uri)"""


async def unanswered(conn: asyncpg.Connection, department_id: int, limit: int = 100) -> list[Waiting]:
    """The department's unanswered citizen replies, oldest first."""
    rows = await conn.fetch(
        f"""SELECT r.id, r.uri, r.url, r.content_html, r.visibility, r.created_at, a.username AS author_username,
                   a.domain AS author_domain, a.display_name AS author_name, parent.id AS parent_id
            {_UNANSWERED} ORDER BY r.created_at, r.id LIMIT $2""",
        department_id, limit,
    )
    return [Waiting(**dict(r)) for r in rows]


async def unanswered_reply(conn: asyncpg.Connection, department_id: int, post_id: int) -> Waiting | None:
    """One of the department's unanswered citizen replies, by id."""
    row = await conn.fetchrow(
        f"""SELECT r.id, r.uri, r.url, r.content_html, r.visibility, r.created_at, a.username AS author_username,
                   a.domain AS author_domain, a.display_name AS author_name, parent.id AS parent_id
            {_UNANSWERED} AND r.id = $2""",
        department_id, post_id,
    )
    return None if row is None else Waiting(**dict(row))
