"""Follows of departments: requests recorded, accepted at once or held for approval, undone."""

from __future__ import annotations

import asyncpg

from actors import follow_queries, remote_queries
from actors.errors import NotFound
from actors.follow_queries import ACCEPTED, PENDING, Follow
from actors.queries import Actor


async def record_follow(conn: asyncpg.Connection, follower: Actor, followee: Actor, follow_uri: str) -> Follow:
    """Store a Follow of a department: accepted unless the department approves followers by hand."""
    state = PENDING if followee.manually_approves_followers else ACCEPTED
    return await follow_queries.upsert_follow(conn, follower.id, followee.id, follow_uri, state)


async def approve_follow(conn: asyncpg.Connection, followee: Actor, follower_uri: str) -> Follow:
    """Accept a pending follow request of ``followee`` by the actor ``follower_uri``."""
    follow = await _pending(conn, followee, follower_uri)
    return await follow_queries.accept_follow(conn, follow.id)


async def reject_follow(conn: asyncpg.Connection, followee: Actor, follower_uri: str) -> Follow:
    """Refuse (and forget) a pending follow request, or remove an accepted follower."""
    follower = await remote_queries.actor_by_uri(conn, follower_uri)
    follow = None if follower is None else await follow_queries.follow_between(conn, follower.id, followee.id)
    if follow is None:
        raise NotFound(f"{follower_uri} does not follow {followee.username}")
    await follow_queries.delete_follow(conn, follow.id)
    return follow


async def undo_follow(conn: asyncpg.Connection, follower: Actor, follow_uri: str | None, followee: Actor | None) -> Follow | None:
    """Remove a follow named by its activity id, or else by the pair; None if there was none."""
    follow = await follow_queries.follow_by_uri(conn, follow_uri) if follow_uri else None
    if follow is None and followee is not None:
        follow = await follow_queries.follow_between(conn, follower.id, followee.id)
    if follow is None or follow.follower_id != follower.id:
        return None
    await follow_queries.delete_follow(conn, follow.id)
    return follow


async def _pending(conn: asyncpg.Connection, followee: Actor, follower_uri: str) -> Follow:
    follower = await remote_queries.actor_by_uri(conn, follower_uri)
    follow = None if follower is None else await follow_queries.follow_between(conn, follower.id, followee.id)
    if follow is None or follow.state != PENDING:
        raise NotFound(f"no pending follow request of {followee.username} by {follower_uri}")
    return follow
