"""SQL for follows (remote actors following departments): each function takes the connection first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

PENDING = "pending"
ACCEPTED = "accepted"


@dataclass(frozen=True)
class Follow:
    """One actor following another; ``uri`` is the id of the Follow activity."""

    id: int
    uri: str
    follower_id: int
    followee_id: int
    state: str
    created_at: datetime
    accepted_at: datetime | None


@dataclass(frozen=True)
class FollowerEntry:
    """A follower as collections and admin lists show it."""

    follow_id: int
    follow_uri: str
    actor_uri: str
    handle: str
    state: str
    created_at: datetime


_FOLLOW = "id, uri, follower_id, followee_id, state, created_at, accepted_at"


def _follow(row: asyncpg.Record | None) -> Follow | None:
    return None if row is None else Follow(**dict(row))


async def upsert_follow(conn: asyncpg.Connection, follower_id: int, followee_id: int, uri: str, state: str) -> Follow:
    """Record a follow (a repeated Follow replaces the activity id; an accepted follow stays accepted)."""
    row = await conn.fetchrow(
        f"""INSERT INTO follows (uri, follower_id, followee_id, state, accepted_at)
            VALUES ($1, $2, $3, $4, CASE WHEN $4 = 'accepted' THEN now() END)
            ON CONFLICT (follower_id, followee_id) DO UPDATE SET uri = EXCLUDED.uri,
                state = CASE WHEN follows.state = 'accepted' THEN 'accepted' ELSE EXCLUDED.state END,
                accepted_at = COALESCE(follows.accepted_at, EXCLUDED.accepted_at)
            RETURNING {_FOLLOW}""",
        uri, follower_id, followee_id, state,
    )
    follow = _follow(row)
    assert follow is not None
    return follow


async def follow_between(conn: asyncpg.Connection, follower_id: int, followee_id: int) -> Follow | None:
    """The follow of ``followee`` by ``follower``, if any."""
    return _follow(
        await conn.fetchrow(f"SELECT {_FOLLOW} FROM follows WHERE follower_id = $1 AND followee_id = $2", follower_id, followee_id)
    )


async def follow_by_uri(conn: asyncpg.Connection, uri: str) -> Follow | None:
    """A follow by its Follow activity's id."""
    return _follow(await conn.fetchrow(f"SELECT {_FOLLOW} FROM follows WHERE uri = $1", uri))


async def accept_follow(conn: asyncpg.Connection, follow_id: int) -> Follow:
    """Mark a pending follow accepted."""
    row = await conn.fetchrow(
        f"""UPDATE follows SET state = 'accepted', accepted_at = COALESCE(accepted_at, now())
            WHERE id = $1 RETURNING {_FOLLOW}""",
        follow_id,
    )
    follow = _follow(row)
    assert follow is not None
    return follow


async def delete_follow(conn: asyncpg.Connection, follow_id: int) -> None:
    """Remove a follow."""
    await conn.execute("DELETE FROM follows WHERE id = $1", follow_id)


async def delete_follows_by_inbox(conn: asyncpg.Connection, inbox_url: str) -> int:
    """Remove every follow of a local actor by the remote actor whose personal inbox this is."""
    status = await conn.execute(
        """DELETE FROM follows f USING actors a
           WHERE f.follower_id = a.id AND NOT a.local AND a.inbox_url = $1""",
        inbox_url,
    )
    return int(status.split()[-1])


async def followers(
    conn: asyncpg.Connection, followee_id: int, state: str = ACCEPTED, limit: int = 100, before_id: int | None = None
) -> list[FollowerEntry]:
    """Followers (or pending requests) newest first, ``limit`` at a time, paged by follow id."""
    rows = await conn.fetch(
        """SELECT f.id AS follow_id, f.uri AS follow_uri, a.uri AS actor_uri,
                  a.username || '@' || a.domain AS handle, f.state, f.created_at
           FROM follows f JOIN actors a ON a.id = f.follower_id
           WHERE f.followee_id = $1 AND f.state = $2 AND ($4::bigint IS NULL OR f.id < $4)
           ORDER BY f.id DESC LIMIT $3""",
        followee_id, state, limit, before_id,
    )
    return [FollowerEntry(**dict(r)) for r in rows]


async def count_followers(conn: asyncpg.Connection, followee_id: int) -> int:
    """How many accepted followers an actor has."""
    return int(await conn.fetchval("SELECT count(*) FROM follows WHERE followee_id = $1 AND state = 'accepted'", followee_id))


async def count_following(conn: asyncpg.Connection, follower_id: int) -> int:
    """How many actors an actor follows (accepted)."""
    return int(await conn.fetchval("SELECT count(*) FROM follows WHERE follower_id = $1 AND state = 'accepted'", follower_id))
