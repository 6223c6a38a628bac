"""Where the pieces meet: the services a process opens once, and the worker with every queue task."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import asyncpg

from actors.key_generation import KeyGenerationTask
from actors.remote import ActorResolver
from api.scheduling import ScheduledTask
from fedi import __version__
from fedi.database import create_pool
from fedi.http_client import HttpClient
from fedi.settings import Settings
from fedi.worker import Worker
from inbox.processing import InboxTask
from keys.keypairs import KeyVault
from outbox.deliveries import DeliveryTask

HttpClientFactory = Callable[[Settings], HttpClient]


@dataclass(frozen=True)
class Services:
    """What a process opens once and every request and background task shares."""

    settings: Settings
    pool: asyncpg.Pool
    vault: KeyVault
    http: HttpClient
    resolver: ActorResolver

    def state(self) -> dict[str, Any]:
        """The lifespan state (``request.state.<name>`` in handlers)."""
        names = ("settings", "pool", "vault", "http", "resolver")
        return {name: getattr(self, name) for name in names} | {"services": self}


def user_agent(settings: Settings) -> str:
    """How fedi introduces itself to other servers: ``fedi/<version> (+<base_url>/)``."""
    return f"fedi/{__version__} (+{settings.base_url}/)"


def build_http_client(settings: Settings) -> HttpClient:
    """The process's outgoing HTTP client (enter it with ``async with``)."""
    return HttpClient(settings.allow_private_networks, user_agent=user_agent(settings))


@asynccontextmanager
async def open_services(
    settings: Settings, database_url: str, *, http_client: HttpClientFactory = build_http_client, pool_size: int = 10
) -> AsyncIterator[Services]:
    """Open the pool and the HTTP client for ``settings``; close them afterwards."""
    pool = await create_pool(database_url, max_size=pool_size)
    try:
        async with http_client(settings) as http:
            vault = KeyVault(settings.secret_key)
            yield Services(settings, pool, vault, http, ActorResolver(pool, http, settings, vault))
    finally:
        await pool.close()


def build_worker(services: Services) -> Worker:
    """A worker running every queue task of this server: received activities, scheduled posts, deliveries,
    departments' first key pairs."""
    return Worker(
        services.pool,
        [
            InboxTask(services.pool, services.resolver, services.settings),
            ScheduledTask(services.pool, services.resolver, services.settings),
            DeliveryTask(services.pool, services.http, services.vault),
            KeyGenerationTask(services.pool, services.vault),
        ],
    )
