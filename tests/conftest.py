"""Shared fixtures: a real embedded PostgreSQL, a migrated template database cloned per test."""

from __future__ import annotations

import itertools
import ssl
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest
import trustme
from cryptography.hazmat.primitives.asymmetric import rsa

from fedi.database import connect, create_pool
from fedi.embedded import start_embedded_postgres
from fedi.migrate import migrate
from fedi.settings import Settings, load_settings
from keys.keypairs import KeyVault
from tests.peers import RemotePeer, running_peer
from tests.processes import Result, clean_environ, run_fedi
from tests.servers import RunningInstance, running_server, trusting_http_client_factory

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
async def new_database(postgres_server: Any, template_database: str) -> AsyncIterator[Callable[[], Awaitable[str]]]:
    """Make fresh, migrated databases (copies of the template); all are dropped after the test."""
    admin = await asyncpg.connect(_url(postgres_server, "postgres"))
    made: list[str] = []

    async def make() -> str:
        name = f"test_{next(_db_numbers)}_{secrets.token_hex(3)}"
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_database}"')
        made.append(name)
        return _url(postgres_server, name)

    try:
        yield make
        for name in made:
            await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture
async def database_url(new_database: Callable[[], Awaitable[str]]) -> str:
    """A fresh, migrated database for one test."""
    return await new_database()


@pytest.fixture
async def conn(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection to the test's database."""
    connection = await connect(database_url)
    yield connection
    await connection.close()


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    """A connection pool to the test's database."""
    connections = await create_pool(database_url)
    yield connections
    await connections.close()


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
async def instance(settings: Settings, test_ca: trustme.CA) -> AsyncIterator[RunningInstance]:
    """A running fedi server for the test's database that trusts the test CA and knows the test hosts."""
    async with running_server(settings, http_client=trusting_http_client_factory(test_ca)) as running:
        yield running


@pytest.fixture
def server(instance: RunningInstance) -> str:
    """The base URL of the running fedi server."""
    return instance.base_url


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """An aiohttp client session."""
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture(scope="session")
def test_ca() -> trustme.CA:
    """The certificate authority every test server's TLS certificate comes from."""
    return trustme.CA()


@pytest.fixture(scope="session")
def rsa_keys() -> list[rsa.RSAPrivateKey]:
    """A few RSA-2048 keys for remote test users (generation is slow, so once per run)."""
    return [rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(4)]


@pytest.fixture
async def peer(test_ca: trustme.CA, tmp_path: Path, rsa_keys: list[rsa.RSAPrivateKey]) -> AsyncIterator[RemotePeer]:
    """A running Mastodon-like server at https://peer.test:<port> with the user ``alice``."""
    async with running_peer("peer.test", test_ca, tmp_path) as remote:
        remote.add_user("alice", rsa_keys[0])
        yield remote


@pytest.fixture
async def https(test_ca: trustme.CA) -> AsyncIterator[aiohttp.ClientSession]:
    """An aiohttp client session that trusts the test CA."""
    context = ssl.create_default_context()
    test_ca.configure_trust(context)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context)) as session:
        yield session


FediCommand = Callable[..., Awaitable[Result]]


@pytest.fixture
def fedi_command(database_url: str, tmp_path: Path) -> FediCommand:
    """Run the real ``fedi`` command against the test's database: ``await fedi_command("admin", ...)``."""
    env = clean_environ(
        DATABASE_URL=database_url, FEDI_DOMAIN="city.example", FEDI_SECRET_KEY=TEST_SECRET, FEDI_DATA_DIR=str(tmp_path / "var")
    )

    async def run(*args: str, stdin: str | None = None) -> Result:
        return await run_fedi(*args, env=env, cwd=tmp_path, stdin=stdin)

    return run
