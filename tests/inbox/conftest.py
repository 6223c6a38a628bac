"""Inbox fixtures: a department, the peer's users, the inbox URLs and one step of processing."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import asyncpg
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from actors.queries import LocalActor
from actors.remote import ActorResolver
from fedi.settings import Settings
from fedi.worker import Worker
from inbox.processing import InboxTask
from keys.keypairs import KeyVault
from outbox.deliveries import DeliveryTask
from tests.factories import make_department
from tests.inbox.support import load_fixture
from tests.peers import PeerUser, RemotePeer
from tests.servers import RunningInstance

Deliver = Callable[..., Awaitable[tuple[int, Any]]]


@pytest.fixture
async def library(conn: asyncpg.Connection, settings: Settings, vault: KeyVault) -> LocalActor:
    """The department citizens talk to."""
    return await make_department(conn, settings, vault, "library")


@pytest.fixture
def alice(peer: RemotePeer) -> PeerUser:
    """A citizen on the peer."""
    return peer.users["alice"]


@pytest.fixture
def bob(peer: RemotePeer, rsa_keys: list[rsa.RSAPrivateKey]) -> PeerUser:
    """Another citizen on the same peer."""
    return peer.add_user("bob", rsa_keys[1])


@pytest.fixture
def inbox_url(server: str, library: LocalActor) -> str:
    """The department's personal inbox."""
    return f"{server}/users/{library.username}/inbox"


@pytest.fixture
def deliver(http: aiohttp.ClientSession, peer: RemotePeer, alice: PeerUser, inbox_url: str, settings: Settings) -> Deliver:
    """POST an activity to the department's inbox (addressed to our domain), signed as ``user`` (alice by default)."""

    async def send(activity: dict[str, Any], user: PeerUser | None = None, url: str | None = None) -> tuple[int, Any]:
        return await peer.deliver(http, user or alice, url or inbox_url, activity, host=settings.domain)

    return send


@pytest.fixture
def fixture(alice: PeerUser, library: LocalActor, settings: Settings, peer: RemotePeer) -> Callable[[str], dict[str, Any]]:
    """A captured payload sent by alice to the library (hosts rewritten)."""
    return lambda name: load_fixture(name, alice, library, settings.base_url, peer)


@pytest.fixture
def resolver(instance: RunningInstance) -> ActorResolver:
    """The running server's actor resolver."""
    return instance.services.resolver


@pytest.fixture
def process(instance: RunningInstance) -> Callable[[], Awaitable[int]]:
    """Process the inbox until it is empty; return how many items were handled."""
    services = instance.services

    async def run() -> int:
        task = InboxTask(services.pool, services.resolver, services.settings)
        return await Worker(services.pool, [task]).run_until_idle()

    return run


@pytest.fixture
def send_deliveries(instance: RunningInstance) -> Callable[[], Awaitable[int]]:
    """Deliver every queued outgoing activity."""
    services = instance.services
    return lambda: Worker(services.pool, [DeliveryTask(services.pool, services.http, services.vault)]).run_until_idle()
