"""Two fedi servers and a Mastodon-like peer talking over real HTTPS on loopback.

``a.test`` hosts the library, ``b.test`` the museum, and ``peer.test`` is a citizen's Mastodon
server. Each server has its own database, its own host name and a certificate from the test CA;
every request between them is signed and verified for real. Queues are driven one round at a time
(``settle``) so every assertion sees a finished state.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import asyncpg
import pytest
import trustme

from actors.queries import Actor
from fedi.assembly import Services, build_worker
from fedi.database import connect
from fedi.settings import Settings, load_settings
from keys.keypairs import KeyVault
from keys.public_keys import PublicKey
from keys.verification import SignatureChecker
from outbox.interactions import boost_post, like_post, unboost_post, unlike_post
from outbox.posts import delete_post, edit_post, publish_post
from tests.conftest import TEST_SECRET
from tests.factories import make_department
from tests.peers import PUBLIC, Received, RemotePeer
from tests.processes import free_port
from tests.servers import RunningInstance, running_server, trusting_http_client_factory

AP = {"Accept": "application/activity+json"}


@dataclass
class Node:
    """One running fedi server, its department and a connection to its database."""

    name: str
    settings: Settings
    running: RunningInstance
    conn: asyncpg.Connection
    department: Actor

    @property
    def services(self) -> Services:
        return self.running.services

    @property
    def host(self) -> str:
        return self.settings.domain

    def url(self, path: str) -> str:
        """A loopback URL for ``path`` (the certificate covers 127.0.0.1 too)."""
        return f"{self.running.base_url}{path}"


async def start_node(
    stack: AsyncExitStack, name: str, department: str, new_database: Callable[[], Awaitable[str]], ca: trustme.CA, tmp: Path
) -> Node:
    port = free_port()
    database_url = await new_database()
    settings = load_settings(
        environ={}, domain=f"{name}:{port}", secret_key=TEST_SECRET, database_url=database_url, data_dir=str(tmp / name)
    )
    cert = ca.issue_cert(name, "127.0.0.1")
    chain, key = tmp / f"{name}.chain.pem", tmp / f"{name}.key.pem"
    cert.private_key_and_cert_chain_pem.write_to_path(chain)
    cert.private_key_pem.write_to_path(key)
    running = await stack.enter_async_context(
        running_server(settings, chain, key, http_client=trusting_http_client_factory(ca), port=port)
    )
    conn = await connect(database_url)
    stack.push_async_callback(conn.close)
    actor = await make_department(conn, settings, KeyVault(TEST_SECRET), department)
    return Node(name, settings, running, conn, actor)


@pytest.fixture
async def nodes(new_database: Callable[[], Awaitable[str]], test_ca: trustme.CA, tmp_path: Path) -> AsyncIterator[tuple[Node, Node]]:
    async with AsyncExitStack() as stack:
        a = await start_node(stack, "a.test", "library", new_database, test_ca, tmp_path)
        b = await start_node(stack, "b.test", "museum", new_database, test_ca, tmp_path)
        yield a, b


async def settle(*nodes: Node) -> None:
    """Run every node's queues until none has anything left to do."""
    for _ in range(20):
        done = 0
        for node in nodes:
            done += await build_worker(node.services).run_until_idle()
        if done == 0:
            return
    raise AssertionError("queues did not settle")


async def verify_delivery(received: Received, node: Node) -> str:
    """Check a POST the peer received was signed by the node's department key; return the key id."""

    async def lookup(key_id: str, refresh: bool) -> PublicKey | None:
        row = await node.conn.fetchrow(
            "SELECT k.public_key_pem, a.uri FROM keys k JOIN actors a ON a.id = k.actor_id WHERE k.key_id = $1", key_id
        )
        return None if row is None else PublicKey(key_id, row["uri"], row["public_key_pem"])

    parts = received.path
    verified = await SignatureChecker(lookup).verify("POST", parts, received.headers["host"], received.headers, received.body)
    return verified.key_id


async def test_a_citizen_follows_reads_replies_likes_boosts(
    nodes: tuple[Node, Node], peer: RemotePeer, https: aiohttp.ClientSession
) -> None:
    a, _ = nodes
    alice = peer.users["alice"]
    library = a.department
    inbox = a.url("/users/library/inbox")

    # alice follows the library and gets the Accept
    follow = peer.activity(alice, "Follow", library.uri)
    assert (await peer.deliver(https, alice, inbox, follow, host=a.host))[0] == 202
    await settle(a)
    accepts = [act for act in peer.inbox_posts("/users/alice/inbox") if act["type"] == "Accept"]
    assert len(accepts) == 1
    assert accepts[0]["actor"] == library.uri
    accepted = accepts[0]["object"]
    assert (accepted if isinstance(accepted, str) else accepted["id"]) == follow["id"]
    assert await a.conn.fetchval("SELECT state FROM follows") == "accepted"

    # the library publishes; alice's server receives the Create at its shared inbox, signed by the library
    async with a.services.pool.acquire() as conn:
        post = await publish_post(conn, a.services.resolver, a.settings, library, "We open at 9 today. #books")
    await settle(a)
    creates = [r for r in peer.received if r.path == "/inbox" and r.activity["type"] == "Create"]
    assert len(creates) == 1
    note = creates[0].activity["object"]
    assert note["id"] == post.uri and note["attributedTo"] == library.uri and PUBLIC in note["to"]
    assert "#<span>books</span>" in note["content"]
    assert await verify_delivery(creates[0], a) == f"{library.uri}#main-key"
    async with https.get(a.url(f"/users/library/statuses/{post.id}"), headers=AP) as response:
        assert (await response.json(content_type=None))["id"] == post.uri

    # alice replies; the reply is stored in the thread
    reply = peer.note(alice, "<p>Thanks! <script>x</script></p>", inReplyTo=post.uri, cc=[library.uri],
                      tag=[{"type": "Mention", "href": library.uri, "name": f"@library@{a.host}"}])
    assert (await peer.deliver(https, alice, a.url("/inbox"), peer.activity(alice, "Create", reply), host=a.host))[0] == 202
    await settle(a)
    stored = await a.conn.fetchrow("SELECT content_html, in_reply_to_id, local FROM posts WHERE uri = $1", reply["id"])
    assert stored is not None and stored["in_reply_to_id"] == post.id and not stored["local"]
    assert "<script>" not in stored["content_html"] and "Thanks!" in stored["content_html"]

    # like and boost are counted, then undone
    like = peer.activity(alice, "Like", post.uri)
    boost = peer.activity(alice, "Announce", post.uri, to=[PUBLIC])
    for activity in (like, boost):
        assert (await peer.deliver(https, alice, inbox, activity, host=a.host))[0] == 202
    await settle(a)
    counts = dict(await a.conn.fetch("SELECT kind, count(*) FROM interactions GROUP BY kind"))
    assert counts == {"like": 1, "announce": 1}
    assert (await peer.deliver(https, alice, inbox, peer.activity(alice, "Undo", like), host=a.host))[0] == 202
    await settle(a)
    assert dict(await a.conn.fetch("SELECT kind, count(*) FROM interactions GROUP BY kind")) == {"announce": 1}

    # alice edits, then deletes her reply
    edited = {**reply, "content": "<p>Thanks a lot!</p>", "updated": "2026-11-24T11:00:00Z"}
    assert (await peer.deliver(https, alice, inbox, peer.activity(alice, "Update", edited), host=a.host))[0] == 202
    await settle(a)
    assert "Thanks a lot!" in await a.conn.fetchval("SELECT content_html FROM posts WHERE uri = $1", reply["id"])
    tombstone = {"id": reply["id"], "type": "Tombstone"}
    assert (await peer.deliver(https, alice, inbox, peer.activity(alice, "Delete", tombstone), host=a.host))[0] == 202
    await settle(a)
    assert await a.conn.fetchval("SELECT count(*) FROM posts WHERE uri = $1 AND deleted_at IS NULL", reply["id"]) == 0

    # the library edits, then deletes its post: alice's server hears of both, and the URL is gone
    async with a.services.pool.acquire() as conn:
        await edit_post(conn, a.services.resolver, a.settings, post.uri, "We open at 10 today.")
        await delete_post(conn, a.settings, post.uri)
    await settle(a)
    kinds = [r.activity["type"] for r in peer.received if r.path == "/inbox"]
    assert kinds == ["Create", "Update", "Delete"]
    update = [r for r in peer.received if r.activity["type"] == "Update"][0].activity
    assert "10 today" in update["object"]["content"] and "updated" in update["object"]
    async with https.get(a.url(f"/users/library/statuses/{post.id}"), headers=AP) as response:
        assert response.status == 410

    # alice unfollows
    assert (await peer.deliver(https, alice, inbox, peer.activity(alice, "Undo", follow), host=a.host))[0] == 202
    await settle(a)
    assert await a.conn.fetchval("SELECT count(*) FROM follows") == 0


async def test_two_fedi_servers_mention_and_reply_to_each_other(nodes: tuple[Node, Node]) -> None:
    a, b = nodes
    library, museum = a.department, b.department

    # the museum (on b.test) mentions the library (on a.test): b.test finds it by WebFinger over HTTPS
    async with b.services.pool.acquire() as conn:
        hello = await publish_post(conn, b.services.resolver, b.settings, museum, f"Hello @library@{a.host}, shall we?")
    await settle(a, b)
    assert f'href="https://{a.host}/@library" class="u-url mention"' in hello.content_html
    stored = await a.conn.fetchrow("SELECT uri, local, content_html FROM posts WHERE uri = $1", hello.uri)
    assert stored is not None and not stored["local"]
    mentioned = await a.conn.fetchval(
        "SELECT count(*) FROM post_mentions m JOIN posts p ON p.id = m.post_id WHERE p.uri = $1 AND m.actor_id = $2",
        hello.uri, library.id,
    )
    assert mentioned == 1

    # the library answers; the museum's server stores the answer as a reply to its own post
    async with a.services.pool.acquire() as conn:
        answer = await publish_post(conn, a.services.resolver, a.settings, library, "Gladly!", in_reply_to=hello.uri)
    await settle(a, b)
    row = await b.conn.fetchrow("SELECT in_reply_to_id, local FROM posts WHERE uri = $1", answer.uri)
    assert row is not None and not row["local"]
    assert row["in_reply_to_id"] == await b.conn.fetchval("SELECT id FROM posts WHERE uri = $1", hello.uri)

    # the library deletes its answer: it disappears on b.test too
    async with a.services.pool.acquire() as conn:
        await delete_post(conn, a.settings, answer.uri)
    await settle(a, b)
    assert await b.conn.fetchval("SELECT count(*) FROM posts WHERE uri = $1 AND deleted_at IS NULL", answer.uri) == 0
    # every delivery between the servers went through exactly once
    for node in (a, b):
        states = dict(await node.conn.fetch("SELECT state, count(*) FROM deliveries GROUP BY state"))
        assert set(states) <= {"delivered"}


async def test_a_department_likes_and_boosts_posts_of_other_servers(
    nodes: tuple[Node, Node], peer: RemotePeer, https: aiohttp.ClientSession
) -> None:
    a, b = nodes
    library, museum = a.department, b.department
    alice = peer.users["alice"]
    note = peer.note(alice, "<p>The reading room is lovely.</p>")
    async with b.services.pool.acquire() as conn:
        exhibit = await publish_post(conn, b.services.resolver, b.settings, museum, "Our new exhibit opens today.")
    await settle(a, b)

    # the library likes and boosts alice's note and the museum's post: a.test fetches and stores them first
    async with a.services.pool.acquire() as conn:
        for uri in (note["id"], exhibit.uri):
            await like_post(conn, a.services.resolver, a.settings, library, uri)
            await boost_post(conn, a.services.resolver, a.settings, library, uri)
    await settle(a, b)
    stored = await a.conn.fetch("SELECT uri FROM posts WHERE NOT local ORDER BY uri")
    assert sorted(r["uri"] for r in stored) == sorted([note["id"], exhibit.uri])
    at_alice = {r.activity["type"]: r for r in peer.received if r.path == "/users/alice/inbox"}
    assert set(at_alice) == {"Like", "Announce"}
    like, announce = at_alice["Like"].activity, at_alice["Announce"].activity
    assert (like["actor"], like["object"]) == (library.uri, note["id"])
    assert (announce["actor"], announce["object"], announce["to"]) == (library.uri, note["id"], [PUBLIC])
    assert announce["cc"] == [f"{library.uri}/followers", alice.uri]
    for received in at_alice.values():
        assert await verify_delivery(received, a) == f"{library.uri}#main-key"
    counted = "SELECT kind, count(*) FROM interactions i JOIN posts p ON p.id = i.post_id WHERE p.uri = $1 GROUP BY kind"
    assert dict(await b.conn.fetch(counted, exhibit.uri)) == {"like": 1, "announce": 1}
    async with https.get(b.url(f"/users/museum/statuses/{exhibit.id}"), headers=AP) as response:
        document = await response.json(content_type=None)
    assert (document["likes"]["totalItems"], document["shares"]["totalItems"]) == (1, 1)

    # the library takes both back: alice's server gets the Undos, b.test uncounts them
    async with a.services.pool.acquire() as conn:
        for uri in (note["id"], exhibit.uri):
            await unlike_post(conn, a.settings, library, uri)
            await unboost_post(conn, a.settings, library, uri)
    await settle(a, b)
    undos = [r.activity for r in peer.received if r.path == "/users/alice/inbox" and r.activity["type"] == "Undo"]
    assert sorted((u["actor"], u["object"]["type"], u["object"]["id"]) for u in undos) == sorted(
        [(library.uri, "Like", like["id"]), (library.uri, "Announce", announce["id"])]
    )
    assert dict(await b.conn.fetch(counted, exhibit.uri)) == {}
    assert await a.conn.fetchval("SELECT count(*) FROM interactions") == 0
    states = dict(await a.conn.fetch("SELECT state, count(*) FROM deliveries GROUP BY state"))
    assert set(states) == {"delivered"}
