"""Follows: a citizen follows a department, is accepted (or held for approval), unfollows; answers to our follows."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

from actors.queries import LocalActor
from actors.remote import ActorResolver
from fedi.settings import Settings
from keys.keypairs import KeyVault
from tests.factories import make_department
from tests.inbox.conftest import Deliver
from tests.inbox.support import item_state
from tests.peers import PeerUser, RemotePeer

Fixture = Callable[[str], dict[str, Any]]
Step = Callable[[], Awaitable[int]]


async def follows_of(conn: asyncpg.Connection, followee: LocalActor) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        """SELECT f.uri, f.state, a.uri AS follower FROM follows f JOIN actors a ON a.id = f.follower_id
           WHERE f.followee_id = $1""",
        followee.id,
    )
    return [dict(r) for r in rows]


async def test_a_follow_is_recorded_and_accepted(
    deliver: Deliver, fixture: Fixture, process: Step, send_deliveries: Step, conn: asyncpg.Connection,
    library: LocalActor, alice: PeerUser, peer: RemotePeer,
) -> None:
    follow = fixture("mastodon-follow")  # with Mastodon's LD signature block and extension fields
    assert (await deliver(follow))[0] == 202
    assert await process() == 1

    assert await follows_of(conn, library) == [{"uri": follow["id"], "state": "accepted", "follower": alice.uri}]
    assert (await item_state(conn, follow["id"]))["state"] == "done"
    assert await send_deliveries() == 1
    [accept] = peer.inbox_posts("/users/alice/inbox")
    assert accept["type"] == "Accept" and accept["actor"] == library.uri
    assert accept["object"] == follow["id"] or accept["object"]["id"] == follow["id"]


async def test_a_follow_of_a_department_approving_by_hand_stays_pending(
    deliver: Deliver, process: Step, conn: asyncpg.Connection, settings: Settings, vault: KeyVault,
    peer: RemotePeer, alice: PeerUser, server: str,
) -> None:
    archive = await make_department(conn, settings, vault, "archive", manually_approves_followers=True)
    follow = peer.activity(alice, "Follow", archive.uri)
    assert (await deliver(follow, url=f"{server}/users/archive/inbox"))[0] == 202
    await process()
    assert await follows_of(conn, archive) == [{"uri": follow["id"], "state": "pending", "follower": alice.uri}]
    assert await conn.fetchval("SELECT count(*) FROM outbox_activities") == 0


async def test_a_follow_of_anyone_else_is_ignored(
    deliver: Deliver, process: Step, conn: asyncpg.Connection, peer: RemotePeer, alice: PeerUser, server: str
) -> None:
    follow = peer.activity(alice, "Follow", f"{server}/users/nobody")
    assert (await deliver(follow, url=f"{server}/inbox"))[0] == 202
    await process()
    assert await conn.fetchval("SELECT count(*) FROM follows") == 0
    assert (await item_state(conn, follow["id"]))["state"] == "done"


async def test_undo_with_the_follow_embedded_removes_it(
    deliver: Deliver, fixture: Fixture, process: Step, conn: asyncpg.Connection, library: LocalActor
) -> None:
    await deliver(fixture("mastodon-follow"))
    await process()
    assert (await deliver(fixture("mastodon-undo-follow")))[0] == 202
    await process()
    assert await follows_of(conn, library) == []


async def test_undo_naming_the_follow_by_id_removes_it(
    deliver: Deliver, process: Step, conn: asyncpg.Connection, library: LocalActor, peer: RemotePeer, alice: PeerUser
) -> None:
    follow = peer.activity(alice, "Follow", library.uri)
    await deliver(follow)
    await process()
    await deliver(peer.activity(alice, "Undo", follow["id"]))
    await process()
    assert await follows_of(conn, library) == []


async def test_undo_by_id_of_someone_elses_follow_changes_nothing(
    deliver: Deliver, process: Step, conn: asyncpg.Connection, library: LocalActor, peer: RemotePeer,
    alice: PeerUser, bob: PeerUser,
) -> None:
    follow = peer.activity(bob, "Follow", library.uri)
    await deliver(follow, bob)
    await process()
    await deliver(peer.activity(alice, "Undo", follow["id"]))  # alice names bob's Follow by id
    await process()
    assert await follows_of(conn, library) == [{"uri": follow["id"], "state": "accepted", "follower": bob.uri}]


async def test_accept_and_reject_answer_follows_our_actors_sent(
    deliver: Deliver, process: Step, conn: asyncpg.Connection, library: LocalActor, peer: RemotePeer,
    alice: PeerUser, bob: PeerUser, server: str, resolver: ActorResolver,
) -> None:
    for user in (alice, bob):
        remote = await resolver.get_actor(user.uri)
        await conn.execute(
            "INSERT INTO follows (uri, follower_id, followee_id, state) VALUES ($1, $2, $3, 'pending')",
            f"{library.uri}#follows/{user.username}", library.id, remote.id,
        )
    accept = peer.activity(alice, "Accept", {"type": "Follow", "id": f"{library.uri}#follows/alice", "actor": library.uri, "object": alice.uri})
    reject = peer.activity(bob, "Reject", f"{library.uri}#follows/bob")
    assert (await deliver(accept, url=f"{server}/inbox"))[0] == 202
    assert (await deliver(reject, bob, url=f"{server}/inbox"))[0] == 202
    await process()
    rows = await conn.fetch("SELECT uri, state FROM follows WHERE follower_id = $1", library.id)
    assert [dict(r) for r in rows] == [{"uri": f"{library.uri}#follows/alice", "state": "accepted"}]
