"""The asyncpg connection pool: JSON codecs registered once per connection."""

from __future__ import annotations

import json
from typing import Any

import asyncpg

Pool = asyncpg.Pool
Connection = asyncpg.Connection


async def init_connection(conn: asyncpg.Connection) -> None:
    """Decode and encode json/jsonb columns as Python objects."""
    for name in ("json", "jsonb"):
        await conn.set_type_codec(
            name, encoder=_dumps, decoder=json.loads, schema="pg_catalog", format="text"
        )


def _dumps(value: Any) -> str:
    """Compact JSON as stored in the database."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


async def create_pool(database_url: str, min_size: int = 1, max_size: int = 10) -> asyncpg.Pool:
    """Open a pool to ``database_url`` with fedi's codecs."""
    pool = await asyncpg.create_pool(
        database_url, min_size=min_size, max_size=max_size, init=init_connection
    )
    assert pool is not None
    return pool


async def connect(database_url: str) -> asyncpg.Connection:
    """One connection with fedi's codecs, for commands that need no pool."""
    conn = await asyncpg.connect(database_url)
    await init_connection(conn)
    return conn
