"""Migrations: applied once each, recorded, safe to run concurrently, changed files refused."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from fedi import migrate as migrate_module
from fedi.database import connect
from fedi.errors import MigrationError
from fedi.migrate import Migration, load_migrations, migrate, pending_migrations


async def test_template_is_fully_migrated(conn: asyncpg.Connection) -> None:
    assert await pending_migrations(conn) == []
    rows = await conn.fetch("SELECT version, name FROM schema_migrations ORDER BY version")
    assert [r["name"] for r in rows] == [m.name for m in load_migrations()]
    assert await conn.fetchval("SELECT to_regclass('actors') IS NOT NULL")


async def test_second_run_applies_nothing(conn: asyncpg.Connection) -> None:
    assert await migrate(conn) == []


async def test_concurrent_runs_apply_each_migration_once(postgres_server: object) -> None:
    admin = await asyncpg.connect(postgres_server.get_uri("postgres"))  # type: ignore[attr-defined]
    await admin.execute('DROP DATABASE IF EXISTS "concurrent_migrate"')
    await admin.execute('CREATE DATABASE "concurrent_migrate"')
    url = postgres_server.get_uri("concurrent_migrate")  # type: ignore[attr-defined]
    conns = [await connect(url) for _ in range(3)]
    try:
        results = await asyncio.gather(*(migrate(c) for c in conns))
        applied = sorted(name for result in results for name in result)
        assert applied == [m.name for m in load_migrations()]
        assert await conns[0].fetchval("SELECT count(*) FROM schema_migrations") == len(load_migrations())
    finally:
        for c in conns:
            await c.close()
        await admin.execute('DROP DATABASE "concurrent_migrate" WITH (FORCE)')
        await admin.close()


async def test_changed_migration_file_is_refused(conn: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch) -> None:
    real = load_migrations()
    changed = [Migration(real[0].version, real[0].name, real[0].sql + "\n-- edited")] + real[1:]
    monkeypatch.setattr(migrate_module, "load_migrations", lambda: changed)
    with pytest.raises(MigrationError, match="changed after it was applied"):
        await migrate(conn)


async def test_failing_migration_leaves_no_trace(conn: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch) -> None:
    broken = Migration(9999, "9999_broken.sql", "CREATE TABLE half_done (id int); SELECT no_such_function();")
    monkeypatch.setattr(migrate_module, "load_migrations", lambda: load_migrations() + [broken])
    with pytest.raises(asyncpg.UndefinedFunctionError):
        await migrate(conn)
    assert not await conn.fetchval("SELECT to_regclass('half_done') IS NOT NULL")
    assert await conn.fetchval("SELECT count(*) FROM schema_migrations WHERE version = 9999") == 0
