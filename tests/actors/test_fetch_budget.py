"""The fetch budget: one inbound activity may make this server fetch at most a few remote documents.

Actor, key, object and WebFinger fetches all count; the tasks an activity starts share its budget;
a fetch over the budget is not made. An inbox item that needed more fails for good, saying why.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import asyncpg
import pytest
import trustme
from cryptography.hazmat.primitives.asymmetric import rsa

from actors.remote import FETCH_BUDGET, ActorResolver, FetchBudgetExceeded, fetch_budget
from fedi.settings import Settings
from fedi.worker import Worker
from inbox.processing import InboxTask
from keys.keypairs import KeyVault
from tests.factories import make_department
from tests.peers import RemotePeer, running_peer
from tests.servers import RunningInstance

CROWD = 50


@pytest.fixture
def resolver(instance: RunningInstance) -> ActorResolver:
    """The running server's actor resolver."""
    return instance.services.resolver


@pytest.fixture
def crowd(peer: RemotePeer, rsa_keys: list[rsa.RSAPrivateKey]) -> list[str]:
    """The ids of CROWD accounts on the peer this server has never seen."""
    return [peer.add_user(f"citizen{n}", rsa_keys[n % len(rsa_keys)]).uri for n in range(CROWD)]


def gets(peer: RemotePeer) -> int:
    """How many documents the peer was asked for."""
    return sum(1 for method, _, _ in peer.requests if method == "GET")


async def test_an_activity_naming_many_unknown_actors_fetches_only_its_budget(
    resolver: ActorResolver, peer: RemotePeer, crowd: list[str], conn: asyncpg.Connection
) -> None:
    fetched, refused = [], []
    with fetch_budget() as budget:
        for uri in crowd:  # as a handler resolving every actor a Create tags would
            try:
                fetched.append((await resolver.get_actor(uri)).uri)
            except FetchBudgetExceeded as error:
                refused.append(str(error))
    assert fetched == crowd[:FETCH_BUDGET] and len(refused) == CROWD - FETCH_BUDGET
    assert refused[0] == (
        f"fetch budget: one activity may trigger at most {FETCH_BUDGET} remote fetches; {crowd[FETCH_BUDGET]} was not fetched"
    )
    assert gets(peer) == FETCH_BUDGET
    assert await conn.fetchval("SELECT count(*) FROM actors WHERE NOT local") == FETCH_BUDGET
    with pytest.raises(FetchBudgetExceeded):
        budget.check()  # the refusal is remembered even if the caller went on without the actor


async def test_tasks_started_by_one_activity_share_its_budget(
    resolver: ActorResolver, peer: RemotePeer, crowd: list[str]
) -> None:
    with fetch_budget(3):
        results = await asyncio.gather(*(resolver.get_actor(uri) for uri in crowd[:10]), return_exceptions=True)
    assert sum(1 for r in results if isinstance(r, FetchBudgetExceeded)) == 7
    assert gets(peer) == 3


async def test_webfinger_lookups_count_too(resolver: ActorResolver, peer: RemotePeer) -> None:
    with fetch_budget(1):
        with pytest.raises(FetchBudgetExceeded):
            await resolver.resolve_handle(f"@alice@{peer.host}")  # WebFinger took the only fetch
    assert [path for method, path, _ in peer.requests] == ["/.well-known/webfinger"]


async def test_outside_an_activity_nothing_is_limited(resolver: ActorResolver, peer: RemotePeer, crowd: list[str]) -> None:
    for uri in crowd[: FETCH_BUDGET + 2]:  # e.g. a post mentioning many accounts
        await resolver.get_actor(uri)
    assert gets(peer) == FETCH_BUDGET + 2


@pytest.fixture
async def other_peer(test_ca: trustme.CA, tmp_path: Path) -> AsyncIterator[RemotePeer]:
    """A second server, at other.test."""
    async with running_peer("other.test", test_ca, tmp_path) as remote:
        yield remote


async def test_an_inbox_item_needing_more_fetches_fails_for_good(
    instance: RunningInstance, conn: asyncpg.Connection, settings: Settings, vault: KeyVault,
    http: aiohttp.ClientSession, peer: RemotePeer, other_peer: RemotePeer,
) -> None:
    library = await make_department(conn, settings, vault, "library")
    alice = peer.users["alice"]
    # a Create naming its note by id; the peer serves, under that id, a note claiming to live on other.test,
    # which would take a second fetch (from other.test) to check
    note_url = f"{alice.uri}/statuses/99"
    peer.objects["/users/alice/statuses/99"] = {
        "id": f"{other_peer.base_url}/notes/1", "type": "Note", "attributedTo": alice.uri,
        "content": "<p>@library hello</p>", "to": ["https://www.w3.org/ns/activitystreams#Public"],
    }
    create = peer.activity(alice, "Create", note_url)
    assert await peer.deliver(http, alice, f"{instance.base_url}/users/library/inbox", create, host="city.example") == (202, None)

    services = instance.services
    task = InboxTask(services.pool, services.resolver, services.settings, fetch_budget=1)
    await Worker(services.pool, [task]).run_until_idle()

    row = await conn.fetchrow("SELECT state, attempts, last_error FROM inbox_items WHERE activity_id = $1", create["id"])
    assert (row["state"], row["attempts"]) == ("failed", 1)  # not retried: it would need as much again
    assert row["last_error"] == (
        "FetchBudgetExceeded: fetch budget: one activity may trigger at most 1 remote fetches; "
        f"{other_peer.base_url}/notes/1 was not fetched"
    )
    assert other_peer.requests == []
    assert await conn.fetchval("SELECT count(*) FROM posts WHERE author_id <> $1", library.id) == 0
