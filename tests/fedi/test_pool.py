"""The connection pool: a released connection comes back to the next user as a fresh one."""

from __future__ import annotations

import asyncpg
import pytest

from fedi.database import create_pool


async def test_a_transaction_left_open_is_rolled_back_on_release(database_url: str) -> None:
    pool = await create_pool(database_url, min_size=1, max_size=1)
    try:
        async with pool.acquire() as conn:
            await conn.execute("BEGIN")
            await conn.execute("CREATE TABLE left_open (n int)")
        async with pool.acquire() as conn:  # the same connection: the pool holds one
            assert not conn.is_in_transaction()
            assert await conn.fetchval("SELECT to_regclass('left_open')") is None
    finally:
        await pool.close()


async def test_a_failed_transaction_leaves_the_connection_usable(database_url: str) -> None:
    pool = await create_pool(database_url, min_size=1, max_size=1)
    try:
        with pytest.raises(asyncpg.exceptions.DivisionByZeroError):
            async with pool.acquire() as conn, conn.transaction():
                await conn.execute("SELECT 1 / 0")
        async with pool.acquire() as conn:
            assert await conn.fetchval("SELECT 41 + 1") == 42
    finally:
        await pool.close()


async def test_a_connection_that_listened_stops_listening_when_released(database_url: str) -> None:
    pool = await create_pool(database_url, min_size=1, max_size=1)
    try:
        with pytest.warns(asyncpg.InterfaceWarning, match="active notification listener"):
            async with pool.acquire() as conn:  # released still listening, as when UNLISTEN could not be sent
                await conn.add_listener("fedi_wake", lambda *args: None)
                assert [r[0] for r in await conn.fetch("SELECT pg_listening_channels()")] == ["fedi_wake"]
        async with pool.acquire() as conn:
            assert await conn.fetch("SELECT pg_listening_channels()") == []
    finally:
        await pool.close()

