"""SQL for outgoing activities, their deliveries and the health of remote hosts.

Every function takes the caller's connection first. A delivery is claimed in one statement (due,
unlocked rows of available hosts, ``FOR UPDATE SKIP LOCKED``, then ``UPDATE … RETURNING``), which
also lets exactly one probe through to each host whose pause has just ended. The claim bumps
``attempts``; the result of an attempt is written only while ``attempts`` still matches, so a worker
whose lock expired cannot overwrite what another worker did with the row since. Results are written
many at a time (``finish_attempts``: one statement for the rows and their hosts' health).
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


async def insert_deliveries(
    conn: asyncpg.Connection, outbox_activity_id: int, inboxes: Sequence[tuple[str, str]]
) -> tuple[int, int]:
    """Queue (inbox URL, host) pairs not queued yet, ``skipped`` for paused hosts; return (added, of which skipped).

    Rows go in taking each host in turn (its first inbox, then every host's second...), so that the
    claims, which take due rows in that order, spread over many hosts instead of queueing behind one.
    """
    rows = await conn.fetch(
        """INSERT INTO deliveries (outbox_activity_id, inbox_url, host, state, finished_at)
           SELECT $1, i.url, i.host,
                  CASE WHEN h.host IS NULL THEN 'pending' ELSE 'skipped' END,
                  CASE WHEN h.host IS NULL THEN NULL ELSE now() END
           FROM unnest($2::text[], $3::text[]) WITH ORDINALITY AS i (url, host, n)
           LEFT JOIN hosts h ON h.host = i.host AND h.unavailable_until > now()
           ORDER BY row_number() OVER (PARTITION BY i.host ORDER BY i.n), i.n
           ON CONFLICT (outbox_activity_id, inbox_url) DO NOTHING
           RETURNING state = 'skipped' AS skipped""",
        outbox_activity_id, [url for url, _ in inboxes], [host for _, host in inboxes],
    )
    return len(rows), sum(1 for r in rows if r["skipped"])


async def follower_inboxes(conn: asyncpg.Connection, actor_id: int) -> list[str]:
    """Distinct inboxes (shared when there is one) of the actor's accepted, live remote followers, blocks excluded.

    Excluded: followers blocking the actor or blocked by it, and those the instance blocks (or whose inbox it does).
    Blocked domains are looked up once per distinct host, not once per follower.
    """
    rows = await conn.fetch(
        """WITH followers AS (
               SELECT a.uri, COALESCE(NULLIF(a.shared_inbox_url, ''), a.inbox_url) AS inbox
               FROM follows f JOIN actors a ON a.id = f.follower_id
               WHERE f.followee_id = $1 AND f.state = 'accepted' AND NOT a.local AND a.deleted_at IS NULL
                 AND COALESCE(NULLIF(a.shared_inbox_url, ''), a.inbox_url) <> ''
                 AND NOT EXISTS (SELECT 1 FROM blocks b
                                 WHERE (b.blocker_id = a.id AND b.blocked_id = $1)
                                    OR (b.blocker_id = $1 AND b.blocked_id = a.id))
                 AND NOT EXISTS (SELECT 1 FROM blocked_actors ba WHERE ba.uri = a.uri)
           ), blocked_hosts AS (
               SELECT h.host FROM (SELECT url_host(uri) FROM followers UNION SELECT url_host(inbox) FROM followers) AS h (host)
               WHERE EXISTS (SELECT 1 FROM blocked_domains) AND host_blocked(h.host)
           )
           SELECT DISTINCT inbox FROM followers
           WHERE NOT EXISTS (SELECT 1 FROM blocked_hosts bh WHERE bh.host IN (url_host(uri), url_host(inbox)))
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


@dataclass(frozen=True)
class Finished:
    """The result of one attempt at a claimed delivery, to be recorded with others in one statement."""

    delivery: ClaimedDelivery
    state: str
    retry_in: float | None
    status: int | None
    error: str | None
    host_effect: HostEffect


# Clearing a host that was paused also brings its waiting deliveries forward ("old" is the row before the update).
_CLEAR_HOST = """cleared AS (
        UPDATE hosts h SET consecutive_failures = 0, failing_since = NULL, unavailable_until = NULL,
            last_success_at = now()
        FROM hosts old WHERE old.host = h.host AND h.host {hosts} AND {condition}
        RETURNING h.host, old.unavailable_until IS NOT NULL AS was_paused
    ), resumed AS (
        UPDATE deliveries d SET next_attempt_at = now() FROM cleared
        WHERE cleared.was_paused AND d.host = cleared.host AND d.state = 'pending' AND d.next_attempt_at > now()
          AND d.id {exclude}
    )"""

# A host with a success among the results is up; one with only failures counts them all, and is paused
# when it has been failing for longer than $8 seconds (returned with ``paused``).
_FINISH = """WITH done AS (
        UPDATE deliveries d SET state = c.state, locked_until = NULL, last_status = c.status, last_error = c.error,
            next_attempt_at = CASE WHEN c.retry_in IS NULL THEN d.next_attempt_at
                                   ELSE now() + c.retry_in * interval '1 second' END,
            finished_at = CASE WHEN c.state = 'pending' THEN NULL ELSE now() END
        FROM unnest($1::bigint[], $2::int[], $3::text[], $4::int[], $5::text[], $6::float8[], $7::text[])
             AS c (id, attempts, state, status, error, retry_in, effect)
        -- still pending, said so that the rows are found by id: the statistics of the index of pending rows
        -- are stale after a large fan-out, and the planner would scan all of them
        WHERE d.id = ANY($1::bigint[]) AND d.id = c.id AND d.attempts = c.attempts
          AND d.state NOT IN ('delivered', 'failed', 'skipped')
        RETURNING d.id, d.host, c.effect
    ), up AS (
        SELECT DISTINCT host FROM done WHERE effect = 'up'
    ), down AS (
        SELECT host, count(*)::int AS failures FROM done
        WHERE effect = 'down' AND host NOT IN (SELECT host FROM up) GROUP BY host
    ), """ + _CLEAR_HOST.format(
    hosts="IN (SELECT host FROM up)",
    condition="(old.consecutive_failures > 0 OR old.unavailable_until IS NOT NULL"
    " OR old.last_success_at IS NULL OR old.last_success_at < now() - interval '1 hour')",
    exclude="NOT IN (SELECT id FROM done)",
) + """, failing AS (
        INSERT INTO hosts AS h (host, consecutive_failures, failing_since)
        SELECT host, failures, now() FROM down ORDER BY host
        ON CONFLICT (host) DO UPDATE SET consecutive_failures = h.consecutive_failures + excluded.consecutive_failures,
            failing_since = COALESCE(h.failing_since, now()),
            unavailable_until = CASE WHEN h.failing_since < now() - $8::float8 * interval '1 second'
                                     THEN now() + $9::float8 * interval '1 second' ELSE h.unavailable_until END
        RETURNING h.host, h.consecutive_failures, h.failing_since, h.unavailable_until,
                  h.unavailable_until = now() + $9::float8 * interval '1 second' AS paused
    )
    SELECT host, consecutive_failures, failing_since, unavailable_until, paused FROM failing WHERE paused"""


async def finish_attempts(
    conn: asyncpg.Connection, results: Sequence[Finished], *, failing_limit: float, pause: float
) -> list[Host]:
    """Record attempts' results and their effect on the hosts in one statement; return the hosts this paused.

    A result whose delivery has been claimed again since (``attempts`` moved on) or finished is left out.
    """
    rows = await conn.fetch(
        _FINISH,
        [r.delivery.id for r in results], [r.delivery.attempts for r in results], [r.state for r in results],
        [r.status for r in results], [r.error for r in results], [r.retry_in for r in results],
        [r.host_effect for r in results], failing_limit, pause,
    )
    return [Host(**dict(r)) for r in rows]


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
        hosts="= $1",
        condition="(old.consecutive_failures > 0 OR old.failing_since IS NOT NULL OR old.unavailable_until IS NOT NULL)",
        exclude="<> 0",
    ) + " SELECT count(*) FROM cleared"
    return bool(await conn.fetchval(sql, host))


async def remove_follows_of_personal_inboxes(conn: asyncpg.Connection, inbox_urls: Sequence[str]) -> int:
    """Delete local actors' follows by remote actors whose personal inbox (and nobody's shared one) is one of these."""
    status = await conn.execute(
        """DELETE FROM follows f USING actors follower, actors followee
           WHERE follower.id = f.follower_id AND followee.id = f.followee_id
             AND follower.inbox_url = ANY($1::text[]) AND NOT follower.local AND followee.local
             AND NOT EXISTS (SELECT 1 FROM actors s WHERE s.shared_inbox_url = follower.inbox_url)""",
        list(inbox_urls),
    )
    return int(status.rsplit(" ", 1)[1])
