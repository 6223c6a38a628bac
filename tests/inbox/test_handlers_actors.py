"""Remote actors changing themselves: profile Update, account Delete, Move."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

from actors.queries import LocalActor
from actors.remote import ActorResolver
from tests.inbox.conftest import Deliver
from tests.inbox.support import item_state, local_post
from tests.peers import PeerUser, RemotePeer

Fixture = Callable[[str], dict[str, Any]]
Step = Callable[[], Awaitable[int]]


async def test_an_update_of_the_sender_refreshes_its_stored_profile(
    deliver: Deliver, fixture: Fixture, process: Step, conn: asyncpg.Connection, alice: PeerUser
) -> None:
    update = fixture("mastodon-update-actor")  # gargron's profile, sent here by alice about herself
    update["object"]["publicKey"] = alice.document["publicKey"]
    assert (await deliver(update))[0] == 202
    await process()
    row = await conn.fetchrow("SELECT display_name, summary_html, fields, avatar_url FROM actors WHERE uri = $1", alice.uri)
    assert row["display_name"] == "gargle" and row["summary_html"] == "<p>Some bio</p>"
    assert row["fields"] == [{"name": "foo", "value": "updated"}, {"name": "foo1", "value": "updated"}]
    assert row["avatar_url"] == update["object"]["icon"]["url"]
    assert await conn.fetchval("SELECT count(*) FROM keys k JOIN actors a ON a.id = k.actor_id WHERE a.uri = $1", alice.uri) == 1


async def test_an_update_of_another_actor_is_ignored(
    deliver: Deliver, process: Step, conn: asyncpg.Connection, peer: RemotePeer, alice: PeerUser, bob: PeerUser,
    resolver: ActorResolver,
) -> None:
    await resolver.get_actor(bob.uri)
    forged = {**bob.document, "name": "Bob is rude"}
    update = peer.activity(alice, "Update", forged)
    assert (await deliver(update))[0] == 202
    await process()
    assert await conn.fetchval("SELECT display_name FROM actors WHERE uri = $1", bob.uri) == "Bob"
    assert (await item_state(conn, update["id"]))["state"] == "done"


async def test_a_deleted_actor_is_forgotten_with_all_it_left(
    deliver: Deliver, fixture: Fixture, process: Step, conn: asyncpg.Connection, library: LocalActor,
    peer: RemotePeer, alice: PeerUser,
) -> None:
    ours = await local_post(conn, library)
    await deliver(peer.activity(alice, "Follow", library.uri))
    await deliver(peer.activity(alice, "Like", ours["uri"]))
    await deliver(peer.activity(alice, "Create", peer.note(alice, "<p>reply</p>", inReplyTo=ours["uri"])))
    await process()
    assert await conn.fetchval("SELECT count(*) FROM posts WHERE NOT local") == 1

    delete = fixture("mastodon-delete-actor")
    assert (await deliver(delete))[0] == 202  # her key is known: verified as usual
    await process()
    assert await conn.fetchval("SELECT count(*) FROM actors WHERE uri = $1", alice.uri) == 0
    for table in ("follows", "interactions", "keys WHERE actor_id NOT IN (SELECT id FROM actors WHERE local)"):
        assert await conn.fetchval(f"SELECT count(*) FROM {table}") == 0
    assert await conn.fetchval("SELECT count(*) FROM posts WHERE NOT local") == 0
    assert (await item_state(conn, delete["id"]))["state"] == "done"


async def test_a_move_is_acknowledged(deliver: Deliver, process: Step, conn: asyncpg.Connection, peer: RemotePeer, alice: PeerUser) -> None:
    move = peer.activity(alice, "Move", alice.uri, target="https://other.test/users/alice")
    assert (await deliver(move))[0] == 202
    await process()
    assert (await item_state(conn, move["id"]))["state"] == "done"
    assert await conn.fetchval("SELECT count(*) FROM actors WHERE uri = $1", alice.uri) == 1
