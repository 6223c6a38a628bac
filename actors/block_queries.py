"""SQL for the instance's blocks of remote domains and actors; each function takes the caller's connection first.

Matching is done in SQL by the functions of migration 0007: ``host_blocked(host)`` (a block of a
domain covers its subdomains, whatever the port) and ``actor_blocked(uri)`` (the actor or its domain).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg

_DOMAIN = "id, domain, severity, public_comment, private_comment, created_at, updated_at"
_ACTOR = "id, uri, comment, created_at"


@dataclass(frozen=True)
class DomainBlock:
    """A blocked domain (and its subdomains)."""

    id: int
    domain: str
    severity: str
    public_comment: str
    private_comment: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class ActorBlock:
    """A blocked remote actor, by id."""

    id: int
    uri: str
    comment: str
    created_at: datetime


async def insert_domain_block(
    conn: asyncpg.Connection, domain: str, public_comment: str, private_comment: str
) -> DomainBlock | None:
    """Block a domain; None when it is blocked already."""
    row = await conn.fetchrow(
        f"""INSERT INTO blocked_domains (domain, public_comment, private_comment) VALUES ($1, $2, $3)
            ON CONFLICT (domain) DO NOTHING RETURNING {_DOMAIN}""",
        domain, public_comment, private_comment,
    )
    return None if row is None else DomainBlock(**dict(row))


async def domain_block(conn: asyncpg.Connection, *, block_id: int | None = None, domain: str | None = None) -> DomainBlock | None:
    """A domain block by id or by domain."""
    row = await conn.fetchrow(
        f"SELECT {_DOMAIN} FROM blocked_domains WHERE id = $1 OR domain = $2", block_id, domain
    )
    return None if row is None else DomainBlock(**dict(row))


async def domain_blocks_page(
    conn: asyncpg.Connection, max_id: int | None, since_id: int | None, min_id: int | None, limit: int
) -> list[DomainBlock]:
    """Domain blocks, newest first, within Mastodon's ``max_id``/``since_id``/``min_id`` window."""
    order = "ASC" if min_id is not None else "DESC"
    rows = await conn.fetch(
        f"""SELECT {_DOMAIN} FROM blocked_domains
            WHERE ($1::bigint IS NULL OR id < $1) AND ($2::bigint IS NULL OR id > $2) AND ($3::bigint IS NULL OR id > $3)
            ORDER BY id {order} LIMIT $4""",
        max_id, since_id, min_id, limit,
    )
    blocks = [DomainBlock(**dict(r)) for r in rows]
    return sorted(blocks, key=lambda b: b.id, reverse=True)


async def update_domain_block(
    conn: asyncpg.Connection, block_id: int, public_comment: str | None, private_comment: str | None
) -> DomainBlock | None:
    """Change a domain block's comments (None keeps one); None when there is no such block."""
    row = await conn.fetchrow(
        f"""UPDATE blocked_domains SET public_comment = COALESCE($2, public_comment),
                private_comment = COALESCE($3, private_comment), updated_at = now()
            WHERE id = $1 RETURNING {_DOMAIN}""",
        block_id, public_comment, private_comment,
    )
    return None if row is None else DomainBlock(**dict(row))


async def delete_domain_block(conn: asyncpg.Connection, *, block_id: int | None = None, domain: str | None = None) -> DomainBlock | None:
    """Lift a domain block (by id or domain); the block that was lifted, or None."""
    row = await conn.fetchrow(
        f"DELETE FROM blocked_domains WHERE id = $1 OR domain = $2 RETURNING {_DOMAIN}", block_id, domain
    )
    return None if row is None else DomainBlock(**dict(row))


async def insert_actor_block(conn: asyncpg.Connection, uri: str, comment: str) -> ActorBlock | None:
    """Block an actor by id; None when it is blocked already."""
    row = await conn.fetchrow(
        f"""INSERT INTO blocked_actors (uri, comment) VALUES ($1, $2)
            ON CONFLICT (uri) DO NOTHING RETURNING {_ACTOR}""",
        uri, comment,
    )
    return None if row is None else ActorBlock(**dict(row))


async def delete_actor_block(conn: asyncpg.Connection, uri: str) -> ActorBlock | None:
    """Lift an actor block; the block that was lifted, or None."""
    row = await conn.fetchrow(f"DELETE FROM blocked_actors WHERE uri = $1 RETURNING {_ACTOR}", uri)
    return None if row is None else ActorBlock(**dict(row))


async def actor_blocks(conn: asyncpg.Connection) -> list[ActorBlock]:
    """Every blocked actor, newest first."""
    rows = await conn.fetch(f"SELECT {_ACTOR} FROM blocked_actors ORDER BY id DESC")
    return [ActorBlock(**dict(r)) for r in rows]


async def all_domain_blocks(conn: asyncpg.Connection) -> list[DomainBlock]:
    """Every blocked domain, alphabetically."""
    rows = await conn.fetch(f"SELECT {_DOMAIN} FROM blocked_domains ORDER BY domain")
    return [DomainBlock(**dict(r)) for r in rows]


async def block_lists(conn: asyncpg.Connection) -> tuple[list[str], list[str]]:
    """Every blocked domain and every blocked actor id, in one round trip."""
    row = await conn.fetchrow(
        """SELECT ARRAY(SELECT domain FROM blocked_domains ORDER BY domain) AS domains,
                  ARRAY(SELECT uri FROM blocked_actors ORDER BY uri) AS actors"""
    )
    assert row is not None
    return list(row["domains"]), list(row["actors"])


async def first_blocked(conn: asyncpg.Connection, uris: Sequence[str]) -> str | None:
    """The first of ``uris`` that is a blocked actor or on a blocked domain, or None."""
    return await conn.fetchval(  # type: ignore[no-any-return]
        """SELECT u FROM unnest($1::text[]) WITH ORDINALITY AS t (u, n) WHERE actor_blocked(u) ORDER BY n LIMIT 1""",
        list(uris),
    )


async def blocked_inboxes(conn: asyncpg.Connection, urls: Sequence[str]) -> set[str]:
    """Those of ``urls`` on a blocked domain or the personal inbox of a blocked actor."""
    rows = await conn.fetch(
        """SELECT u FROM unnest($1::text[]) AS t (u)
           WHERE host_blocked(url_host(u))
              OR EXISTS (SELECT 1 FROM actors a JOIN blocked_actors b ON b.uri = a.uri
                         WHERE a.inbox_url = u AND NOT a.local)""",
        list(urls),
    )
    return {r["u"] for r in rows}


async def remove_blocked_follows(conn: asyncpg.Connection) -> int:
    """Delete follows between local actors and blocked remote ones, both ways; return how many went."""
    status = await conn.execute(
        """DELETE FROM follows f USING actors follower, actors followee
           WHERE follower.id = f.follower_id AND followee.id = f.followee_id
             AND ((followee.local AND NOT follower.local AND actor_blocked(follower.uri))
               OR (follower.local AND NOT followee.local AND actor_blocked(followee.uri)))"""
    )
    return int(status.rsplit(" ", 1)[1])


async def remote_actors_blocked(conn: asyncpg.Connection, actor_ids: Sequence[int]) -> set[int]:
    """Those of ``actor_ids`` that are remote actors blocked by the instance (themselves or by domain)."""
    rows = await conn.fetch(
        "SELECT id FROM actors WHERE id = ANY($1::bigint[]) AND NOT local AND actor_blocked(uri)", list(actor_ids)
    )
    return {r["id"] for r in rows}


async def set_moderator(conn: asyncpg.Connection, staff_id: int, value: bool) -> bool:
    """Grant or revoke a staff member's instance moderator flag; True if it changed."""
    status = await conn.execute(
        "UPDATE staff SET is_moderator = $2, updated_at = now() WHERE id = $1 AND is_moderator <> $2", staff_id, value
    )
    return status != "UPDATE 0"


async def is_moderator(conn: asyncpg.Connection, staff_id: int) -> bool:
    """Whether a staff member is an instance moderator."""
    return bool(await conn.fetchval("SELECT is_moderator FROM staff WHERE id = $1", staff_id))


async def moderators(conn: asyncpg.Connection) -> list[str]:
    """The usernames of the instance moderators, alphabetically."""
    return [r["username"] for r in await conn.fetch("SELECT username FROM staff WHERE is_moderator ORDER BY lower(username)")]
