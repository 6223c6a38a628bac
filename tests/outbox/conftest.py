"""Fixtures shared by the delivery tests: a pool, an outgoing client, a recording sink, the sender."""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator

import asyncpg
import pytest

from actors.queries import LocalActor
from fedi.http_client import HttpClient
from fedi.settings import Settings
from keys.keypairs import KeyVault
from tests.factories import make_department
from tests.outbox.sinks import Sink, running_sink

LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"),)
HOSTS = {name: "127.0.0.1" for name in ("a.test", "b.test", "c.test")}


@pytest.fixture
async def client() -> AsyncIterator[HttpClient]:
    """An outgoing client allowed to reach loopback, with a few test host names."""
    async with HttpClient(LOOPBACK, user_agent="fedi-test", static_hosts=HOSTS, total_timeout=5) as http:
        yield http


@pytest.fixture
async def sink(pool: asyncpg.Pool) -> AsyncIterator[Sink]:
    """A recording inbox server."""
    async with running_sink(pool) as server:
        yield server


@pytest.fixture
async def library(conn: asyncpg.Connection, settings: Settings, vault: KeyVault) -> LocalActor:
    """The sending department."""
    return await make_department(conn, settings, vault, "library")
