"""SQL for scheduled statuses: a department's pending ones, and the queue that publishes them when due.

Rows move ``pending -> published`` (with the post's id) or ``pending -> failed``. A claim takes due,
unlocked rows with ``FOR UPDATE SKIP LOCKED`` and locks them until ``locked_until``; a worker that
dies leaves a lock that expires, and the row is claimed again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from api.pagination import Page


@dataclass(frozen=True)
class Scheduled:
    """A scheduled status as stored."""

    id: int
    actor_id: int
    staff_id: int | None
    application_id: int | None
    params: dict[str, Any]
    scheduled_at: datetime
    state: str
    attempts: int
    published_post_id: int | None
    created_at: datetime


_SCHEDULED = (
    "s.id, s.actor_id, s.staff_id, s.application_id, s.params, s.scheduled_at, s.state, s.attempts, "
    "s.published_post_id, s.created_at"
)


def _scheduled(row: asyncpg.Record | None) -> Scheduled | None:
    return None if row is None else Scheduled(**dict(row))


async def insert_scheduled(
    conn: asyncpg.Connection, actor_id: int, staff_id: int, application_id: int | None, params: dict[str, Any],
    scheduled_at: datetime,
) -> Scheduled:
    """Queue a status to publish at ``scheduled_at``."""
    row = await conn.fetchrow(
        f"""INSERT INTO scheduled_statuses AS s (actor_id, staff_id, application_id, params, scheduled_at, next_attempt_at)
            VALUES ($1, $2, $3, $4, $5, $5) RETURNING {_SCHEDULED}""",
        actor_id, staff_id, application_id, params, scheduled_at,
    )
    scheduled = _scheduled(row)
    assert scheduled is not None
    return scheduled


async def scheduled_of(conn: asyncpg.Connection, scheduled_id: int, actor_id: int) -> Scheduled | None:
    """A department's pending scheduled status."""
    row = await conn.fetchrow(
        f"SELECT {_SCHEDULED} FROM scheduled_statuses s WHERE s.id = $1 AND s.actor_id = $2 AND s.state = 'pending'",
        scheduled_id, actor_id,
    )
    return _scheduled(row)


async def pending_scheduled(conn: asyncpg.Connection, actor_id: int, page: Page) -> list[Scheduled]:
    """A department's pending scheduled statuses, newest first."""
    lower = page.min_id if page.min_id is not None else page.since_id
    rows = await conn.fetch(
        f"""SELECT {_SCHEDULED} FROM scheduled_statuses s
            WHERE s.actor_id = $1 AND s.state = 'pending'
              AND ($2::bigint IS NULL OR s.id < $2) AND ($3::bigint IS NULL OR s.id > $3)
            ORDER BY s.id {'ASC' if page.ascending else 'DESC'} LIMIT $4""",
        actor_id, page.max_id, lower, page.limit,
    )
    found = [Scheduled(**dict(r)) for r in rows]
    return found[::-1] if page.ascending else found


async def count_pending(conn: asyncpg.Connection, actor_id: int) -> int:
    """How many statuses a department has scheduled."""
    return int(
        await conn.fetchval("SELECT count(*) FROM scheduled_statuses WHERE actor_id = $1 AND state = 'pending'", actor_id)
    )


async def reschedule(conn: asyncpg.Connection, scheduled_id: int, scheduled_at: datetime) -> Scheduled:
    """Move a pending scheduled status to another time."""
    row = await conn.fetchrow(
        f"""UPDATE scheduled_statuses s SET scheduled_at = $2, next_attempt_at = $2
            WHERE s.id = $1 AND s.state = 'pending' RETURNING {_SCHEDULED}""",
        scheduled_id, scheduled_at,
    )
    scheduled = _scheduled(row)
    assert scheduled is not None
    return scheduled


async def delete_scheduled(conn: asyncpg.Connection, scheduled_id: int) -> bool:
    """Cancel a pending scheduled status; True if it was still pending."""
    return await conn.execute("DELETE FROM scheduled_statuses WHERE id = $1 AND state = 'pending'", scheduled_id) != "DELETE 0"


async def claim_due(conn: asyncpg.Connection, limit: int, lock_seconds: float) -> list[Scheduled]:
    """Lock up to ``limit`` due pending rows (unlocked, or whose lock expired), earliest first."""
    rows = await conn.fetch(
        f"""WITH due AS (
                SELECT id FROM scheduled_statuses
                WHERE state = 'pending' AND next_attempt_at <= now()
                  AND (locked_until IS NULL OR locked_until < now())
                ORDER BY next_attempt_at, id LIMIT $1 FOR UPDATE SKIP LOCKED)
            UPDATE scheduled_statuses s SET locked_until = now() + $2 * interval '1 second', attempts = s.attempts + 1
            FROM due WHERE s.id = due.id
            RETURNING {_SCHEDULED}""",
        limit, lock_seconds,
    )
    return sorted((Scheduled(**dict(r)) for r in rows), key=lambda s: (s.scheduled_at, s.id))


async def lock_claimed(conn: asyncpg.Connection, scheduled: Scheduled) -> bool:
    """Hold the row for this transaction; False when it was published, failed, cancelled or claimed again."""
    return bool(
        await conn.fetchval(
            "SELECT true FROM scheduled_statuses WHERE id = $1 AND state = 'pending' AND attempts = $2 FOR UPDATE",
            scheduled.id, scheduled.attempts,
        )
    )


async def mark_published(conn: asyncpg.Connection, scheduled_id: int, post_id: int) -> None:
    """Record that a scheduled status was published as ``post_id``."""
    await conn.execute(
        """UPDATE scheduled_statuses SET state = 'published', published_post_id = $2, locked_until = NULL,
               last_error = NULL WHERE id = $1""",
        scheduled_id, post_id,
    )


async def record_failure(conn: asyncpg.Connection, scheduled: Scheduled, error: str, retry_in: float | None) -> None:
    """Record an error: retry in ``retry_in`` seconds, or give up (``failed``) when it is None."""
    await conn.execute(
        """UPDATE scheduled_statuses SET last_error = $3, locked_until = NULL,
               state = CASE WHEN $4::float8 IS NULL THEN 'failed' ELSE 'pending' END,
               next_attempt_at = CASE WHEN $4::float8 IS NULL THEN next_attempt_at
                                      ELSE now() + $4::float8 * interval '1 second' END
           WHERE id = $1 AND attempts = $2 AND state = 'pending'""",
        scheduled.id, scheduled.attempts, error, retry_in,
    )
