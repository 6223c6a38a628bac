"""SQL for outgoing activities, their deliveries and the health of remote hosts.

Every function takes the caller's connection first. A delivery is claimed in one statement (due,
unlocked rows of available hosts, ``FOR UPDATE SKIP LOCKED``, then ``UPDATE … RETURNING``), which
also lets exactly one probe through to each host whose pause has just ended. The claim bumps
``attempts``; the result of an attempt is written only while ``attempts`` still matches, so a worker
whose lock expired cannot overwrite what another worker did with the row since.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import asyncpg

HostEffect = Literal["up", "down"] | None

_DUE = """d.state = 'pending' AND d.next_attempt_at <= now()
          AND (d.locked_until IS NULL OR d.locked_until < now())"""


@dataclass(frozen=True)
class ClaimedDelivery:
    """A delivery locked for one attempt; ``attempts`` counts this one."""

    id: int
    outbox_activity_id: int
    actor_id: int
    inbox_url: str
    host: str
    attempts: int


@dataclass(frozen=True)
class OutboxActivity:
    """A stored outgoing activity and the local actor who sends it."""

    id: int
    actor_id: int
    payload: dict[str, Any]


@dataclass(frozen=True)
class Host:
    """A remote host's delivery health; ``paused`` is true when this failure (re)started a pause."""

    host: str
    consecutive_failures: int
    failing_since: datetime | None
    unavailable_until: datetime | None
    paused: bool = False


async def insert_outbox_activity(
    conn: asyncpg.Connection, activity_id: str, actor_id: int, activity_type: str, post_id: int | None, payload: dict[str, Any]
) -> int:
    """Store an outgoing activity (or find it, when its id is already stored) and return its row id."""
    return int(
        await conn.fetchval(
            """INSERT INTO outbox_activities (activity_id, actor_id, activity_type, post_id, payload, fanned_out_at)
               VALUES ($1, $2, $3, $4, $5, now())
               ON CONFLICT (activity_id) DO UPDATE SET fanned_out_at = now()
               RETURNING id""",
            activity_id, actor_id, activity_type, post_id, payload,
        )
    )


async def insert_deliveries(conn: asyncpg.Connection, outbox_activity_id: int, inboxes: Sequence[tuple[str, str]]) -> int:
    """Queue (inbox URL, host) pairs not queued yet, ``skipped`` for paused hosts; return how many were added."""
    status = await conn.execute(
        """INSERT INTO deliveries (outbox_activity_id, inbox_url, host, state, finished_at)
           SELECT $1, i.url, i.host,
                  CASE WHEN h.host IS NULL THEN 'pending' ELSE 'skipped' END,
                  CASE WHEN h.host IS NULL THEN NULL ELSE now() END
           FROM unnest($2::text[], $3::text[]) AS i (url, host)
           LEFT JOIN hosts h ON h.host = i.host AND h.unavailable_until > now()
           ON CONFLICT (outbox_activity_id, inbox_url) DO NOTHING""",
        outbox_activity_id, [url for url, _ in inboxes], [host for _, host in inboxes],
    )
    return int(status.rsplit(" ", 1)[1])


async def follower_inboxes(conn: asyncpg.Connection, actor_id: int) -> list[str]:
    """Distinct inboxes (shared when there is one) of the actor's accepted, live remote followers, blocks excluded.

    Excluded: followers blocking the actor or blocked by it, and those the instance blocks (or whose inbox it does).
    """
    rows = await conn.fetch(
        """SELECT DISTINCT COALESCE(NULLIF(a.shared_inbox_url, ''), a.inbox_url) AS inbox
           FROM follows f JOIN actors a ON a.id = f.follower_id
           WHERE f.followee_id = $1 AND f.state = 'accepted' AND NOT a.local AND a.deleted_at IS NULL
             AND COALESCE(NULLIF(a.shared_inbox_url, ''), a.inbox_url) <> ''
             AND NOT EXISTS (SELECT 1 FROM blocks b
                             WHERE (b.blocker_id = a.id AND b.blocked_id = $1)
                                OR (b.blocker_id = $1 AND b.blocked_id = a.id))
             AND NOT actor_blocked(a.uri)
             AND NOT host_blocked(url_host(COALESCE(NULLIF(a.shared_inbox_url, ''), a.inbox_url)))
           ORDER BY inbox""",
        actor_id,
    )
    return [r["inbox"] for r in rows]


async def claim_deliveries(conn: asyncpg.Connection, limit: int, lock_seconds: float) -> list[ClaimedDelivery]:
    """Lock up to ``limit`` due deliveries (plus one probe per host whose pause has ended) for one attempt."""
    rows = await conn.fetch(
        f"""WITH probe_hosts AS (
                UPDATE hosts h SET unavailable_until = now() + $2 * interval '1 second'
                WHERE h.unavailable_until <= now()
                  AND EXISTS (SELECT 1 FROM deliveries d WHERE d.host = h.host AND {_DUE})
                RETURNING h.host
            ), probes AS (
                SELECT p.id FROM probe_hosts ph CROSS JOIN LATERAL (
                    SELECT d.id FROM deliveries d WHERE d.host = ph.host AND {_DUE}
                    ORDER BY d.next_attempt_at LIMIT 1 FOR UPDATE SKIP LOCKED) p
            ), due AS (
                SELECT d.id FROM deliveries d
                WHERE {_DUE}
                  AND NOT EXISTS (SELECT 1 FROM hosts h WHERE h.host = d.host AND h.unavailable_until IS NOT NULL)
                ORDER BY d.next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED
            )
            UPDATE deliveries d SET locked_until = now() + $2 * interval '1 second', attempts = d.attempts + 1
            FROM outbox_activities o
            WHERE d.id IN (SELECT id FROM due UNION SELECT id FROM probes) AND o.id = d.outbox_activity_id
            RETURNING d.id, d.outbox_activity_id, o.actor_id, d.inbox_url, d.host, d.attempts""",
        limit, lock_seconds,
    )
    return [ClaimedDelivery(**dict(r)) for r in rows]


async def outbox_activities(conn: asyncpg.Connection, ids: Sequence[int]) -> list[OutboxActivity]:
    """Stored outgoing activities by row id."""
    rows = await conn.fetch(
        "SELECT id, actor_id, payload FROM outbox_activities WHERE id = ANY($1::bigint[])", list(ids)
    )
    return [OutboxActivity(**dict(r)) for r in rows]


_FINISH = """WITH done AS (
        UPDATE deliveries SET state = $3, locked_until = NULL, last_status = $4, last_error = $5,
            next_attempt_at = CASE WHEN $6::float8 IS NULL THEN next_attempt_at
                                   ELSE now() + $6::float8 * interval '1 second' END,
            finished_at = CASE WHEN $3 = 'pending' THEN NULL ELSE now() END
        WHERE id = $1 AND attempts = $2 AND state = 'pending'
        RETURNING host)"""

# Clearing a host that was paused also brings its waiting deliveries forward ("old" is the row before the update).
_CLEAR_HOST = """cleared AS (
        UPDATE hosts h SET consecutive_failures = 0, failing_since = NULL, unavailable_until = NULL,
            last_success_at = now()
        FROM hosts old WHERE old.host = h.host AND h.host = {host} AND {condition}
        RETURNING h.host, old.unavailable_until IS NOT NULL AS was_paused
    ), resumed AS (
        UPDATE deliveries d SET next_attempt_at = now() FROM cleared
        WHERE cleared.was_paused AND d.host = cleared.host AND d.state = 'pending' AND d.next_attempt_at > now()
          AND d.id <> {exclude}
    )"""

_HOST_UP = ", " + _CLEAR_HOST.format(
    host="(SELECT host FROM done)",
    condition="(old.consecutive_failures > 0 OR old.unavailable_until IS NOT NULL"
    " OR old.last_success_at IS NULL OR old.last_success_at < now() - interval '1 hour')",
    exclude="$1",
) + """
    SELECT host, 0 AS consecutive_failures, NULL::timestamptz AS failing_since,
           NULL::timestamptz AS unavailable_until, false AS paused FROM cleared"""

_HOST_DOWN = """INSERT INTO hosts AS h (host, consecutive_failures, failing_since) SELECT host, 1, now() FROM done
    ON CONFLICT (host) DO UPDATE SET consecutive_failures = h.consecutive_failures + 1,
        failing_since = COALESCE(h.failing_since, now()),
        unavailable_until = CASE WHEN h.failing_since < now() - $7::float8 * interval '1 second'
                                 THEN now() + $8::float8 * interval '1 second' ELSE h.unavailable_until END
    RETURNING h.host, h.consecutive_failures, h.failing_since, h.unavailable_until,
              h.unavailable_until = now() + $8::float8 * interval '1 second' AS paused"""


async def finish_attempt(
    conn: asyncpg.Connection,
    delivery: ClaimedDelivery,
    *,
    state: str,
    retry_in: float | None,
    status: int | None,
    error: str | None,
    host_effect: HostEffect,
    failing_limit: float,
    pause: float,
) -> Host | None:
    """Record an attempt's result and its effect on the host (pausing it after ``failing_limit`` seconds of failure)."""
    args: list[Any] = [delivery.id, delivery.attempts, state, status, error, retry_in]
    if host_effect == "up":
        sql = f"{_FINISH} {_HOST_UP}"
    elif host_effect == "down":
        sql, args = f"{_FINISH} {_HOST_DOWN}", args + [failing_limit, pause]
    else:
        sql = f"{_FINISH} SELECT NULL"
    row = await conn.fetchrow(sql, *args)
    return Host(**dict(row)) if row is not None and host_effect is not None else None


async def defer_host_deliveries(conn: asyncpg.Connection, host: str, until: datetime) -> int:
    """Move a paused host's pending deliveries to the end of its pause; return how many moved."""
    status = await conn.execute(
        """UPDATE deliveries SET next_attempt_at = $2
           WHERE host = $1 AND state = 'pending' AND next_attempt_at < $2""",
        host, until,
    )
    return int(status.rsplit(" ", 1)[1])


async def clear_host_failures(conn: asyncpg.Connection, host: str) -> bool:
    """Forget a host's failures and pause, sending what waits for it now; return whether it had any."""
    sql = "WITH " + _CLEAR_HOST.format(
        host="$1",
        condition="(old.consecutive_failures > 0 OR old.failing_since IS NOT NULL OR old.unavailable_until IS NOT NULL)",
        exclude="0",
    ) + " SELECT count(*) FROM cleared"
    return bool(await conn.fetchval(sql, host))


async def remove_follows_of_personal_inbox(conn: asyncpg.Connection, inbox_url: str) -> int:
    """Delete local actors' follows by remote actors whose personal inbox (and nobody's shared one) this is."""
    status = await conn.execute(
        """DELETE FROM follows f USING actors follower, actors followee
           WHERE follower.id = f.follower_id AND followee.id = f.followee_id
             AND follower.inbox_url = $1 AND NOT follower.local AND followee.local
             AND NOT EXISTS (SELECT 1 FROM actors s WHERE s.shared_inbox_url = $1)""",
        inbox_url,
    )
    return int(status.rsplit(" ", 1)[1])
