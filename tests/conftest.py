"""Shared fixtures: a real embedded PostgreSQL, a migrated template database cloned per test."""

from __future__ import annotations

import itertools
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest

from fedi.database import connect
from fedi.embedded import start_embedded_postgres
from fedi.migrate import migrate
from fedi.settings import Settings, load_settings
from keys.keypairs import KeyVault
from tests.servers import running_server

TEMPLATE = "fedi_template"
TEST_SECRET = "test-secret-" + "x" * 40
_db_numbers = itertools.count(1)


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One embedded PostgreSQL for the whole run."""
    url, server = start_embedded_postgres(tmp_path_factory.mktemp("pg"), database="postgres")
    yield server
    server.cleanup()


def _url(server: Any, database: str) -> str:
    return server.get_uri(database)


@pytest.fixture(scope="session")
async def template_database(postgres_server: Any) -> str:
    """A database migrated once; every test gets a copy of it."""
    admin = await asyncpg.connect(_url(postgres_server, "postgres"))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{TEMPLATE}"')
        await admin.execute(f'CREATE DATABASE "{TEMPLATE}"')
    finally:
        await admin.close()
    conn = await connect(_url(postgres_server, TEMPLATE))
    try:
        await migrate(conn)
    finally:
        await conn.close()
    return TEMPLATE


@pytest.fixture
async def database_url(postgres_server: Any, template_database: str) -> AsyncIterator[str]:
    """A fresh, migrated database for one test."""
    name = f"test_{next(_db_numbers)}_{secrets.token_hex(3)}"
    admin = await asyncpg.connect(_url(postgres_server, "postgres"))
    try:
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_database}"')
        yield _url(postgres_server, name)
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture
async def conn(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection to the test's database."""
    connection = await connect(database_url)
    yield connection
    await connection.close()


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """Settings for a server at https://city.example using the test's database."""
    return load_settings(
        environ={},
        domain="city.example",
        secret_key=TEST_SECRET,
        database_url=database_url,
        data_dir=str(tmp_path / "var"),
    )


@pytest.fixture(scope="session")
def vault() -> KeyVault:
    """The key vault for TEST_SECRET."""
    return KeyVault(TEST_SECRET)


@pytest.fixture
async def server(settings: Settings) -> AsyncIterator[str]:
    """A running fedi server for the test's database; yields its base URL."""
    async with running_server(settings) as base_url:
        yield base_url


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """An aiohttp client session."""
    async with aiohttp.ClientSession() as session:
        yield session
