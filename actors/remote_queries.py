"""SQL for remote actors and their keys: each function takes the caller's connection first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

from actors.queries import ACTOR_COLUMNS, Actor
from actors.remote_documents import RemoteActorData


@dataclass(frozen=True)
class KnownKey:
    """A stored public key (local or remote) and its owner."""

    key_id: str
    owner_uri: str
    owner_id: int
    public_key_pem: str
    retired: bool
    local: bool
    fetched_at: datetime | None


async def actor_by_uri(conn: asyncpg.Connection, uri: str) -> Actor | None:
    """Any stored actor, local or remote, by its id."""
    row = await conn.fetchrow(f"SELECT {ACTOR_COLUMNS} FROM actors WHERE uri = $1", uri)
    return None if row is None else Actor(**dict(row))


async def actor_by_id(conn: asyncpg.Connection, actor_id: int) -> Actor | None:
    """Any stored actor by database id."""
    row = await conn.fetchrow(f"SELECT {ACTOR_COLUMNS} FROM actors WHERE id = $1", actor_id)
    return None if row is None else Actor(**dict(row))


async def remote_actor_by_handle(conn: asyncpg.Connection, username: str, domain: str) -> Actor | None:
    """The most recently fetched remote actor known as ``username@domain``."""
    row = await conn.fetchrow(
        f"""SELECT {ACTOR_COLUMNS} FROM actors WHERE NOT local AND lower(username) = lower($1) AND domain = lower($2)
            ORDER BY fetched_at DESC NULLS LAST LIMIT 1""",
        username, domain,
    )
    return None if row is None else Actor(**dict(row))


async def upsert_remote_actor(conn: asyncpg.Connection, data: RemoteActorData) -> Actor:
    """Store or refresh a remote actor and replace its keys with the document's (in one transaction)."""
    async with conn.transaction():  # readers never see the actor between its old keys and its new ones
        return await _upsert_remote_actor(conn, data)


async def _upsert_remote_actor(conn: asyncpg.Connection, data: RemoteActorData) -> Actor:
    row = await conn.fetchrow(
        f"""INSERT INTO actors (uri, local, actor_type, username, domain, display_name, summary_html, avatar_url,
                header_url, fields, manually_approves_followers, discoverable, inbox_url, shared_inbox_url,
                outbox_url, followers_url, following_url, featured_url, url, document, fetched_at)
            VALUES ($1, false, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, now())
            ON CONFLICT (uri) DO UPDATE SET actor_type = $2, username = $3, domain = $4, display_name = $5,
                summary_html = $6, avatar_url = $7, header_url = $8, fields = $9, manually_approves_followers = $10,
                discoverable = $11, inbox_url = $12, shared_inbox_url = $13, outbox_url = $14, followers_url = $15,
                following_url = $16, featured_url = $17, url = $18, document = $19, fetched_at = now(),
                updated_at = now()
            WHERE NOT actors.local
            RETURNING {ACTOR_COLUMNS}""",
        data.uri, data.actor_type, data.username, data.domain, data.display_name, data.summary_html,
        data.avatar_url, data.header_url, data.fields, data.manually_approves_followers, data.discoverable,
        data.inbox_url, data.shared_inbox_url, data.outbox_url, data.followers_url, data.following_url,
        data.featured_url, data.url, data.document,
    )
    if row is None:
        raise ValueError(f"{data.uri} is a local actor")
    actor = Actor(**dict(row))
    await conn.execute("DELETE FROM keys WHERE actor_id = $1", actor.id)
    await conn.executemany(
        """INSERT INTO keys (actor_id, key_id, generation, public_key_pem) VALUES ($1, $2, $3, $4)
           ON CONFLICT (key_id) DO NOTHING""",  # a key id another actor already owns is not taken over
        [(actor.id, key.key_id, generation, key.pem) for generation, key in enumerate(data.keys, start=1)],
    )
    return actor


async def known_key(conn: asyncpg.Connection, key_id: str) -> KnownKey | None:
    """A stored key and its owner, whoever it belongs to."""
    row = await conn.fetchrow(
        """SELECT k.key_id, a.uri AS owner_uri, a.id AS owner_id, k.public_key_pem,
                  k.retired_at IS NOT NULL AS retired, a.local, a.fetched_at
           FROM keys k JOIN actors a ON a.id = k.actor_id WHERE k.key_id = $1""",
        key_id,
    )
    return None if row is None else KnownKey(**dict(row))


async def delete_remote_actor(conn: asyncpg.Connection, uri: str) -> bool:
    """Forget a remote actor with its keys, follows, posts and interactions; True if it was known."""
    return await conn.execute("DELETE FROM actors WHERE uri = $1 AND NOT local", uri) != "DELETE 0"


async def touch_fetch_attempt(conn: asyncpg.Connection, actor_id: int) -> None:
    """Record that the actor was (re)fetched now, successful or not, to rate-limit refetches."""
    await conn.execute("UPDATE actors SET fetched_at = now() WHERE id = $1 AND NOT local", actor_id)
