"""The asyncpg connection pool: JSON codecs registered once per connection, and what "unavailable" means.

A restarted or unreachable PostgreSQL shows up as one of UNAVAILABLE_ERRORS: the pool drops the
broken connection and opens a new one on the next ``acquire``, so callers need no reconnect logic;
the web answers 503 (``fedi.unavailable``) and the worker backs off and tries again (``fedi.worker``).
Connecting gives up after CONNECT_TIMEOUT seconds, so nothing hangs while the server is away.

A connection goes back to the pool without asyncpg's default reset (``pg_advisory_unlock_all()``,
``CLOSE ALL``, ``UNLISTEN *``, ``RESET ALL``: one more round trip on every release). fedi leaves no
session state on pooled connections: transactions are rolled back by asyncpg on release whatever the
reset, advisory locks are transaction-scoped (``pg_advisory_xact_lock``) except the migrations' lock,
taken on a connection of its own, nothing runs ``SET`` for the session or keeps cursors, and the only
``LISTEN`` (the worker's wake-up) goes through ``add_listener``, which ``PooledConnection`` notices: a
connection that listened gets the full reset before anyone else uses it.
"""

from __future__ import annotations

import json
from typing import Any

import asyncpg
import orjson

Pool = asyncpg.Pool
Connection = asyncpg.Connection

CONNECT_TIMEOUT = 5.0
INACTIVE_CONNECTION_LIFETIME = 60.0
UNAVAILABLE_ERRORS: tuple[type[BaseException], ...] = (
    asyncpg.PostgresConnectionError,  # the connection failed or was lost mid-query
    asyncpg.InterfaceError,  # the connection is closed
    asyncpg.exceptions.CannotConnectNowError,  # starting up, shutting down, in recovery
    asyncpg.exceptions.AdminShutdownError,  # terminated by a (fast) shutdown
    asyncpg.exceptions.CrashShutdownError,
    asyncpg.exceptions.TooManyConnectionsError,
    OSError,  # refused, reset, socket missing, timed out
)


def database_unavailable(error: BaseException) -> bool:
    """Whether ``error`` says the database cannot be reached right now (rather than a query being wrong)."""
    return isinstance(error, UNAVAILABLE_ERRORS)


class PooledConnection(asyncpg.Connection):  # type: ignore[misc]
    """A connection that remembers whether it ever LISTENed, so that only such a one needs a full reset."""

    listened = False

    async def add_listener(self, channel: str, callback: Any) -> None:
        """LISTEN on ``channel``, marking this connection for a full reset on release."""
        self.listened = True
        await super().add_listener(channel, callback)


async def reset_connection(conn: asyncpg.Connection) -> None:
    """Make a released connection like a fresh one: nothing to undo unless it LISTENed (see the module docstring)."""
    if isinstance(conn, PooledConnection) and conn.listened:
        await conn.execute(conn.get_reset_query())
        conn.listened = False


async def init_connection(conn: asyncpg.Connection) -> None:
    """Decode and encode json/jsonb columns as Python objects."""
    for name in ("json", "jsonb"):
        await conn.set_type_codec(
            name, encoder=_dumps, decoder=_loads, schema="pg_catalog", format="text"
        )


def _loads(text: str) -> Any:
    """A json/jsonb value as Python objects (orjson; the standard library for what it refuses, such as
    integers beyond 64 bits)."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def _dumps(value: Any) -> str:
    """Compact JSON as stored in the database."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


async def create_pool(database_url: str, min_size: int = 1, max_size: int = 10) -> asyncpg.Pool:
    """Open a pool to ``database_url`` with fedi's codecs."""
    pool = await asyncpg.create_pool(
        database_url, min_size=min_size, max_size=max_size, init=init_connection,
        timeout=CONNECT_TIMEOUT, max_inactive_connection_lifetime=INACTIVE_CONNECTION_LIFETIME,
        connection_class=PooledConnection, reset=reset_connection,
    )
    assert pool is not None
    return pool


async def connect(database_url: str) -> asyncpg.Connection:
    """One connection with fedi's codecs, for commands that need no pool."""
    conn = await asyncpg.connect(database_url, timeout=CONNECT_TIMEOUT)
    await init_connection(conn)
    return conn
