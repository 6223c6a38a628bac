"""``/healthz`` and ``/readyz`` over real HTTP: up, ready, and what readiness says when it is not."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import aiohttp
import asyncpg

from fedi.migrate import load_migrations


async def get(http: aiohttp.ClientSession, url: str) -> tuple[int, Any]:
    async with http.get(url) as response:
        return response.status, await response.json(content_type=None)


async def test_a_running_server_is_healthy_and_ready(server: str, http: aiohttp.ClientSession) -> None:
    assert await get(http, f"{server}/healthz") == (200, {"status": "ok"})
    assert await get(http, f"{server}/readyz") == (200, {"status": "ready"})


async def test_a_missing_migration_makes_the_server_not_ready(
    server: str, http: aiohttp.ClientSession, conn: asyncpg.Connection
) -> None:
    last = load_migrations()[-1]
    await conn.execute("DELETE FROM schema_migrations WHERE version = $1", last.version)
    status, body = await get(http, f"{server}/readyz")
    assert status == 503
    assert body == {"error": f"database schema: migrations not applied: {last.name}"}
    assert await get(http, f"{server}/healthz") == (200, {"status": "ok"})  # the process itself is fine


async def test_a_changed_migration_makes_the_server_not_ready(
    server: str, http: aiohttp.ClientSession, conn: asyncpg.Connection
) -> None:
    first = load_migrations()[0]
    await conn.execute("UPDATE schema_migrations SET checksum = 'x' WHERE version = $1", first.version)
    status, body = await get(http, f"{server}/readyz")
    assert status == 503
    assert body["error"].startswith(f"database schema: migration {first.name} was changed after it was applied")


async def test_a_database_that_does_not_answer_makes_the_server_not_ready(
    server: str, http: aiohttp.ClientSession, database_url: str, postgres_server: Any
) -> None:
    name = urlsplit(database_url).path.lstrip("/")
    admin = await asyncpg.connect(postgres_server.get_uri("postgres"))
    try:
        await admin.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false')
        await admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", name)
        status, body = await get(http, f"{server}/readyz")
        assert status == 503
        assert body["error"].startswith("database: does not answer")
        assert await get(http, f"{server}/healthz") == (200, {"status": "ok"})
    finally:
        await admin.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true')
        await admin.close()
