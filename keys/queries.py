"""SQL for the keys table: each function takes the caller's connection first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg


@dataclass(frozen=True)
class KeyRecord:
    """One stored key of a local actor."""

    id: int
    actor_id: int
    key_id: str
    generation: int
    public_key_pem: str
    private_key_encrypted: bytes | None
    created_at: datetime
    retired_at: datetime | None

    @property
    def retired(self) -> bool:
        """True once the key has been replaced by a newer one."""
        return self.retired_at is not None


_COLUMNS = "id, actor_id, key_id, generation, public_key_pem, private_key_encrypted, created_at, retired_at"


def _record(row: asyncpg.Record | None) -> KeyRecord | None:
    return None if row is None else KeyRecord(**dict(row))


async def insert_key(
    conn: asyncpg.Connection,
    actor_id: int,
    key_id: str,
    generation: int,
    public_key_pem: str,
    private_key_encrypted: bytes | None,
) -> KeyRecord | None:
    """Store a key as the actor's active one; None if the actor already has an active key."""
    row = await conn.fetchrow(
        f"""INSERT INTO keys (actor_id, key_id, generation, public_key_pem, private_key_encrypted)
            VALUES ($1, $2, $3, $4, $5)
            ON CONFLICT DO NOTHING
            RETURNING {_COLUMNS}""",
        actor_id,
        key_id,
        generation,
        public_key_pem,
        private_key_encrypted,
    )
    return _record(row)


async def active_key(conn: asyncpg.Connection, actor_id: int) -> KeyRecord | None:
    """The actor's current key, if it has one."""
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM keys WHERE actor_id = $1 AND retired_at IS NULL", actor_id
    )
    return _record(row)


async def active_keys(conn: asyncpg.Connection, actor_ids: list[int]) -> dict[int, KeyRecord]:
    """Current keys of many actors at once, by actor id."""
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM keys WHERE actor_id = ANY($1::bigint[]) AND retired_at IS NULL", actor_ids
    )
    return {r["actor_id"]: KeyRecord(**dict(r)) for r in rows}


async def key_by_key_id(conn: asyncpg.Connection, key_id: str) -> KeyRecord | None:
    """A key, active or retired, by its public key id."""
    row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM keys WHERE key_id = $1", key_id)
    return _record(row)


async def keys_of_actor(conn: asyncpg.Connection, actor_id: int) -> list[KeyRecord]:
    """Every key the actor has had, oldest first."""
    rows = await conn.fetch(f"SELECT {_COLUMNS} FROM keys WHERE actor_id = $1 ORDER BY generation", actor_id)
    return [KeyRecord(**dict(r)) for r in rows]


async def retire_active_key(conn: asyncpg.Connection, actor_id: int) -> KeyRecord | None:
    """Mark the actor's active key retired and return it."""
    row = await conn.fetchrow(
        f"""UPDATE keys SET retired_at = now()
            WHERE actor_id = $1 AND retired_at IS NULL
            RETURNING {_COLUMNS}""",
        actor_id,
    )
    return _record(row)


async def actors_without_key(conn: asyncpg.Connection, actor_ids: list[int]) -> list[int]:
    """Which of the given actors have no active key."""
    rows = await conn.fetch(
        """SELECT a FROM unnest($1::bigint[]) AS a
           WHERE NOT EXISTS (SELECT 1 FROM keys k WHERE k.actor_id = a AND k.retired_at IS NULL)""",
        actor_ids,
    )
    return [r["a"] for r in rows]
