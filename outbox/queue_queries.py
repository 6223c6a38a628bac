"""SQL for watching and steering the queues: depths, counts by state, listing, retrying, releasing.

Operators read these through ``fedi admin queue`` and ``/metrics``; a stopping worker releases the
rows it claimed but never started, so other workers take them at once instead of after the lock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg

DELIVERY_STATES = ("pending", "delivered", "failed", "skipped")
INBOX_STATES = ("pending", "done", "failed")


@dataclass(frozen=True)
class QueueStatus:
    """Counts by state of both queues, what is due now, the oldest due delivery's age and paused hosts."""

    inbox: dict[str, int]
    deliveries: dict[str, int]
    inbox_due: int
    deliveries_due: int
    oldest_due_seconds: float
    paused_hosts: list[tuple[str, datetime]]


@dataclass(frozen=True)
class QueuedDelivery:
    """One delivery as an operator sees it."""

    id: int
    state: str
    host: str
    inbox_url: str
    attempts: int
    next_attempt_at: datetime
    last_status: int | None
    last_error: str | None


async def queue_depth(conn: asyncpg.Connection) -> dict[str, float]:
    """The queue gauges of ``/metrics`` (names as in ``fedi.metrics.QUEUE_GAUGES``), from the partial indexes."""
    row = await conn.fetchrow(
        """SELECT (SELECT count(*) FROM inbox_items WHERE state = 'pending') AS inbox_pending,
                  (SELECT count(*) FROM deliveries WHERE state = 'pending') AS deliveries_pending,
                  (SELECT count(*) FROM deliveries WHERE state = 'pending' AND next_attempt_at <= now()) AS due,
                  (SELECT COALESCE(EXTRACT(EPOCH FROM now() - min(next_attempt_at)), 0) FROM deliveries
                   WHERE state = 'pending' AND next_attempt_at <= now()) AS oldest"""
    )
    assert row is not None
    return {
        "fedi_inbox_items_pending": float(row["inbox_pending"]),
        "fedi_deliveries_pending": float(row["deliveries_pending"]),
        "fedi_deliveries_due": float(row["due"]),
        "fedi_deliveries_oldest_due_age_seconds": float(row["oldest"]),
    }


async def queue_status(conn: asyncpg.Connection) -> QueueStatus:
    """Everything ``fedi admin queue status`` prints."""
    inbox = dict.fromkeys(INBOX_STATES, 0) | {
        r["state"]: int(r["n"]) for r in await conn.fetch("SELECT state, count(*) AS n FROM inbox_items GROUP BY state")
    }
    deliveries = dict.fromkeys(DELIVERY_STATES, 0) | {
        r["state"]: int(r["n"]) for r in await conn.fetch("SELECT state, count(*) AS n FROM deliveries GROUP BY state")
    }
    inbox_due = await conn.fetchval(
        "SELECT count(*) FROM inbox_items WHERE state = 'pending' AND next_attempt_at <= now()"
    )
    depth = await queue_depth(conn)
    paused = await conn.fetch(
        "SELECT host, unavailable_until FROM hosts WHERE unavailable_until > now() ORDER BY host"
    )
    return QueueStatus(
        inbox, deliveries, int(inbox_due), int(depth["fedi_deliveries_due"]),
        depth["fedi_deliveries_oldest_due_age_seconds"], [(r["host"], r["unavailable_until"]) for r in paused],
    )


async def list_deliveries(
    conn: asyncpg.Connection, *, state: str | None, host: str | None, limit: int
) -> list[QueuedDelivery]:
    """Deliveries (of one state and host, when given), the next due first, then the latest finished."""
    rows = await conn.fetch(
        """SELECT id, state, host, inbox_url, attempts, next_attempt_at, last_status, last_error
           FROM deliveries
           WHERE ($1::text IS NULL OR state = $1) AND ($2::text IS NULL OR host = $2)
           ORDER BY state <> 'pending', next_attempt_at, id LIMIT $3""",
        state, host, limit,
    )
    return [QueuedDelivery(**dict(r)) for r in rows]


async def existing_delivery_ids(conn: asyncpg.Connection, ids: Sequence[int]) -> set[int]:
    """Which of ``ids`` are deliveries."""
    rows = await conn.fetch("SELECT id FROM deliveries WHERE id = ANY($1::bigint[])", list(ids))
    return {int(r["id"]) for r in rows}


_RETRY = """UPDATE deliveries SET state = 'pending', next_attempt_at = now(), finished_at = NULL,
                attempts = CASE WHEN state = 'failed' THEN 0 ELSE attempts END
            WHERE state IN ('pending', 'failed') AND (locked_until IS NULL OR locked_until < now()) AND {condition}"""


async def retry_deliveries(
    conn: asyncpg.Connection, *, ids: Sequence[int] = (), host: str | None = None, failed: bool = False
) -> int:
    """Make the chosen deliveries due now (failed ones back to pending with a fresh schedule); return how many.

    Deliveries being sent right now (locked) and those already delivered or skipped are left alone.
    A retried host's pause is lifted, or its deliveries would keep waiting for it.
    """
    if ids:
        status = await conn.execute(_RETRY.format(condition="id = ANY($1::bigint[])"), list(ids))
    elif host is not None:
        await conn.execute("UPDATE hosts SET unavailable_until = NULL WHERE host = $1", host)
        status = await conn.execute(_RETRY.format(condition="host = $1"), host)
    elif failed:
        status = await conn.execute(_RETRY.format(condition="state = 'failed'"))
    else:
        raise ValueError("retry_deliveries needs ids, a host or failed=True")
    return int(status.rsplit(" ", 1)[1])


async def release_deliveries(conn: asyncpg.Connection, claims: Sequence[tuple[int, int]], *, started: bool) -> int:
    """Unlock claimed deliveries ``(id, attempts)`` so any worker takes them now; an unstarted claim is not an attempt."""
    status = await conn.execute(
        """UPDATE deliveries d SET locked_until = NULL, attempts = d.attempts - CASE WHEN $3 THEN 0 ELSE 1 END
           FROM unnest($1::bigint[], $2::int[]) AS c (id, attempts)
           WHERE d.id = c.id AND d.attempts = c.attempts AND d.state = 'pending'""",
        [c[0] for c in claims], [c[1] for c in claims], started,
    )
    return int(status.rsplit(" ", 1)[1])


async def release_inbox_items(conn: asyncpg.Connection, claims: Sequence[tuple[int, int]], *, started: bool) -> int:
    """Unlock claimed inbox items ``(id, attempts)`` so any worker takes them now."""
    status = await conn.execute(
        """UPDATE inbox_items i SET locked_until = NULL, attempts = i.attempts - CASE WHEN $3 THEN 0 ELSE 1 END
           FROM unnest($1::bigint[], $2::int[]) AS c (id, attempts)
           WHERE i.id = c.id AND i.attempts = c.attempts AND i.state = 'pending'""",
        [c[0] for c in claims], [c[1] for c in claims], started,
    )
    return int(status.rsplit(" ", 1)[1])
