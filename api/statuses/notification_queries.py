"""SQL for a department's notifications (written by the triggers of migration 0005, read and dismissed here).

A notification whose post was deleted is not shown; a dismissed one is kept with ``dismissed_at``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from api.pagination import Page
from api.statuses.queries import window

TYPES = ("mention", "status", "reblog", "follow", "follow_request", "favourite", "update")


@dataclass(frozen=True)
class Notification:
    """A notification as stored."""

    id: int
    type: str
    from_actor_id: int
    post_id: int | None
    created_at: datetime


@dataclass(frozen=True)
class NotificationFilter:
    """Which notifications a list shows."""

    types: tuple[str, ...] = ()
    exclude_types: tuple[str, ...] = ()
    from_actor_id: int | None = None


_SHOWN = """n.actor_id = $1 AND n.dismissed_at IS NULL
    AND (n.post_id IS NULL OR EXISTS (SELECT 1 FROM posts sp WHERE sp.id = n.post_id AND sp.deleted_at IS NULL))"""


async def notifications(
    conn: asyncpg.Connection, actor_id: int, options: NotificationFilter, page: Page
) -> list[Notification]:
    """A department's notifications, newest first."""
    tail, args = window(page, 5, "n.id")
    rows = await conn.fetch(
        f"""SELECT n.id, n.type, n.from_actor_id, n.post_id, n.created_at FROM notifications n
            WHERE {_SHOWN}
              AND (cardinality($2::text[]) = 0 OR n.type = ANY($2::text[]))
              AND NOT (n.type = ANY($3::text[]))
              AND ($4::bigint IS NULL OR n.from_actor_id = $4){tail}""",
        actor_id, list(options.types), list(options.exclude_types), options.from_actor_id, *args,
    )
    found = [Notification(**dict(r)) for r in rows]
    return found[::-1] if page.ascending else found


async def notification(conn: asyncpg.Connection, actor_id: int, notification_id: int) -> Notification | None:
    """One of a department's shown notifications."""
    row = await conn.fetchrow(
        f"""SELECT n.id, n.type, n.from_actor_id, n.post_id, n.created_at FROM notifications n
            WHERE {_SHOWN} AND n.id = $2""",
        actor_id, notification_id,
    )
    return None if row is None else Notification(**dict(row))


async def dismiss(conn: asyncpg.Connection, actor_id: int, notification_ids: Sequence[int] | None = None) -> int:
    """Dismiss some of a department's notifications (all when ``notification_ids`` is None); return how many."""
    status = await conn.execute(
        """UPDATE notifications SET dismissed_at = now()
           WHERE actor_id = $1 AND dismissed_at IS NULL AND ($2::bigint[] IS NULL OR id = ANY($2::bigint[]))""",
        actor_id, None if notification_ids is None else list(notification_ids),
    )
    return int(status.split()[-1])
