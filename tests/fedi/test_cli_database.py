"""``fedi db status`` and ``fedi db migrate`` against a new, empty database."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from fedi.migrate import load_migrations
from tests.conftest import TEST_SECRET
from tests.processes import FEDI, clean_environ


@pytest.fixture
async def empty_database(postgres_server: Any) -> AsyncIterator[str]:
    admin = await asyncpg.connect(postgres_server.get_uri("postgres"))
    await admin.execute('DROP DATABASE IF EXISTS "cli_empty"')
    await admin.execute('CREATE DATABASE "cli_empty"')
    yield postgres_server.get_uri("cli_empty")
    await admin.execute('DROP DATABASE "cli_empty" WITH (FORCE)')
    await admin.close()


async def fedi_db(command: str, url: str, cwd: Path) -> tuple[int, str]:
    env = clean_environ(DATABASE_URL=url, FEDI_DOMAIN="city.example", FEDI_SECRET_KEY=TEST_SECRET)
    process = await asyncio.create_subprocess_exec(
        FEDI, "db", command, env=env, cwd=cwd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    out, _ = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode()


async def test_status_then_migrate_then_status(empty_database: str, tmp_path: Path) -> None:
    names = [m.name for m in load_migrations()]
    code, out = await fedi_db("status", empty_database, tmp_path)
    assert code == 1
    assert all(f"pending {name}" in out for name in names)
    code, out = await fedi_db("migrate", empty_database, tmp_path)
    assert code == 0
    assert all(f"applied {name}" in out for name in names)
    code, out = await fedi_db("status", empty_database, tmp_path)
    assert code == 0 and "database is up to date" in out
    code, out = await fedi_db("migrate", empty_database, tmp_path)
    assert code == 0 and "applied" not in out
