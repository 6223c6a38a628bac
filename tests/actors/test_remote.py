"""Remote actors and keys: fetched signed, validated, cached, re-fetched at most once a minute."""

from __future__ import annotations

import asyncpg
import pytest

from actors import remote_queries
from actors.errors import FetchFailed, InvalidDocument
from actors.remote import ActorResolver
from tests.peers import RemotePeer
from tests.servers import RunningInstance


@pytest.fixture
def resolver(instance: RunningInstance) -> ActorResolver:
    return instance.services.resolver


async def test_resolve_handle_fetches_and_stores_the_actor(resolver: ActorResolver, peer: RemotePeer, conn: asyncpg.Connection) -> None:
    actor = await resolver.resolve_handle(f"@alice@{peer.host}")
    assert actor.uri == f"{peer.base_url}/users/alice" and not actor.local
    assert actor.inbox_url == f"{peer.base_url}/users/alice/inbox"
    assert actor.shared_inbox_url == f"{peer.base_url}/inbox"
    assert actor.display_name == "Alice" and actor.summary_html == "<p>A citizen.</p>"
    key = await remote_queries.known_key(conn, f"{actor.uri}#main-key")
    assert key is not None and key.owner_uri == actor.uri and not key.local


async def test_fetches_are_signed_by_the_instance_actor(resolver: ActorResolver, peer: RemotePeer) -> None:
    await resolver.get_actor(f"{peer.base_url}/users/alice")
    method, path, headers = peer.requests[-1]
    assert (method, path) == ("GET", "/users/alice")
    assert 'keyId="https://city.example/actor#main-key"' in headers["signature"]
    assert headers["accept"].startswith("application/activity+json")


async def test_key_lookup_refetches_once_a_minute_at_most(resolver: ActorResolver, peer: RemotePeer, conn: asyncpg.Connection, rsa_keys: list) -> None:
    user = peer.users["alice"]
    first = await resolver.lookup_key(user.key_id, False)
    assert first is not None and first.owner == user.uri
    peer.add_user("alice", rsa_keys[1])  # the key is rotated on the peer
    again = await resolver.lookup_key(user.key_id, True)
    assert again is not None and again.pem == first.pem  # fetched moments ago: not fetched again
    await conn.execute("UPDATE actors SET fetched_at = now() - interval '2 minutes' WHERE uri = $1", user.uri)
    rotated = await resolver.lookup_key(user.key_id, True)
    assert rotated is not None and rotated.pem != first.pem


async def test_document_claiming_another_hosts_id_is_refused(resolver: ActorResolver, peer: RemotePeer) -> None:
    peer.users["alice"].document["id"] = "https://other.test:1/users/alice"
    with pytest.raises((InvalidDocument, FetchFailed)):
        await resolver.get_actor(f"{peer.base_url}/users/alice")


async def test_unknown_user_and_unreachable_host(resolver: ActorResolver, peer: RemotePeer) -> None:
    with pytest.raises(FetchFailed):
        await resolver.resolve_handle(f"nobody@{peer.host}")
    with pytest.raises(FetchFailed):
        await resolver.get_actor("https://other.test:9/users/x")
    assert await resolver.lookup_key("https://other.test:9/users/x#main-key", False) is None
