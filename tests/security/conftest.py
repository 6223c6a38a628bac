"""Fixtures of the attack corpus: the inbox tests' department and citizens, the API tests' tokens, and queues."""

from __future__ import annotations

import asyncpg
import pytest

from fedi.worker import Worker
from inbox.processing import InboxTask
from outbox.deliveries import DeliveryTask
from tests.api.conftest import app, clerk, museum, session  # noqa: F401
from tests.api.content_fixtures import caller, tokens  # noqa: F401
from tests.inbox.conftest import alice, bob, deliver, fixture, inbox_url, library  # noqa: F401
from tests.peers import PeerUser, RemotePeer
from tests.security.support import Aftermath, RunQueues, row_counts
from tests.servers import RunningInstance


@pytest.fixture
def run_queues(instance: RunningInstance) -> RunQueues:
    """Process every received activity, then deliver everything queued; how many items were handled."""
    services = instance.services

    async def run() -> int:
        inbox = Worker(services.pool, [InboxTask(services.pool, services.resolver, services.settings)])
        outbox = Worker(services.pool, [DeliveryTask(services.pool, services.http, services.vault)])
        return await inbox.run_until_idle() + await outbox.run_until_idle()

    return run


@pytest.fixture
async def aftermath(
    instance: RunningInstance, conn: asyncpg.Connection, peer: RemotePeer, alice: PeerUser, bob: PeerUser,
    run_queues: RunQueues,
) -> Aftermath:
    """The state before the attack (the citizens' actors fetched and every queue run first)."""
    for user in (alice, bob):
        await instance.services.resolver.get_actor(user.uri)
    await run_queues()
    return Aftermath(conn, peer, run_queues, await row_counts(conn))
