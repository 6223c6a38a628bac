"""The inbox queue, one step at a time: claims, exactly-once processing, retries with backoff, unknown types."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import pytest

from actors.queries import LocalActor
from fedi.database import connect
from inbox import queries
from inbox.processing import RETRY_DELAYS, InboxTask, retry_delay
from tests.inbox.conftest import Deliver
from tests.inbox.support import item_state, local_post
from tests.peers import PeerUser, RemotePeer
from tests.servers import RunningInstance

Fixture = Callable[[str], dict[str, Any]]
Step = Callable[[], Awaitable[int]]


@pytest.fixture
def task(instance: RunningInstance) -> InboxTask:
    """The inbox task of the running server."""
    services = instance.services
    return InboxTask(services.pool, services.resolver, services.settings)


async def make_due(conn: asyncpg.Connection) -> None:
    """Let every waiting retry be due now."""
    await conn.execute("UPDATE inbox_items SET next_attempt_at = now() WHERE state = 'pending'")


async def test_a_duplicate_delivery_is_processed_once(
    deliver: Deliver, fixture: Fixture, process: Step, conn: asyncpg.Connection, library: LocalActor
) -> None:
    follow = fixture("mastodon-follow")
    for _ in range(3):
        assert (await deliver(follow))[0] == 202
    assert await process() == 1
    assert await conn.fetchval("SELECT count(*) FROM follows") == 1
    assert await conn.fetchval("SELECT count(*) FROM deliveries") == 1


async def test_processing_an_item_again_changes_nothing(
    deliver: Deliver, fixture: Fixture, process: Step, conn: asyncpg.Connection, library: LocalActor
) -> None:
    follow, create = fixture("mastodon-follow"), fixture("mastodon-create-note")
    for activity in (follow, create):
        await deliver(activity)
    await process()
    before = [await conn.fetchval(f"SELECT count(*) FROM {t}") for t in ("follows", "posts", "post_mentions", "deliveries")]
    await conn.execute("UPDATE inbox_items SET state = 'pending', processed_at = NULL")  # as if replayed
    assert await process() == 2
    after = [await conn.fetchval(f"SELECT count(*) FROM {t}") for t in ("follows", "posts", "post_mentions", "deliveries")]
    assert after == before == [1, 1, 1, 1]


async def test_unknown_types_are_acknowledged_and_marked_done(
    deliver: Deliver, process: Step, conn: asyncpg.Connection, peer: RemotePeer, alice: PeerUser, library: LocalActor
) -> None:
    dislike = peer.activity(alice, "Dislike", f"{library.uri}/posts/1")  # Lemmy's downvote
    add = peer.activity(alice, "Add", f"{alice.uri}/statuses/1", target=f"{alice.uri}/collections/featured")
    for activity in (dislike, add):
        assert (await deliver(activity))[0] == 202
    assert await process() == 2
    for activity in (dislike, add):
        assert (await item_state(conn, activity["id"]))["state"] == "done"


async def test_a_failing_item_is_retried_with_backoff_until_it_succeeds(
    deliver: Deliver, process: Step, conn: asyncpg.Connection, library: LocalActor, peer: RemotePeer, alice: PeerUser
) -> None:
    note_id = f"{alice.uri}/statuses/later"
    create = peer.activity(alice, "Create", note_id)  # the note cannot be fetched yet
    await deliver(create)
    await process()
    state = await item_state(conn, create["id"])
    assert state["state"] == "pending" and state["attempts"] == 1 and state["waiting"]
    assert "FetchFailed" in state["last_error"] and "404" in state["last_error"]
    delay = await conn.fetchval(
        "SELECT extract(epoch FROM next_attempt_at - now()) FROM inbox_items WHERE activity_id = $1", create["id"]
    )
    assert RETRY_DELAYS[0] - 5 < delay <= RETRY_DELAYS[0]
    assert await process() == 0  # not due yet

    peer.objects["/users/alice/statuses/later"] = {
        "id": note_id, "type": "Note", "attributedTo": alice.uri, "content": "<p>now</p>",
        "to": ["https://www.w3.org/ns/activitystreams#Public"], "tag": [{"type": "Mention", "href": library.uri}],
    }
    await make_due(conn)
    assert await process() == 1
    state = await item_state(conn, create["id"])
    assert state["state"] == "done" and state["attempts"] == 2 and state["last_error"] is None
    assert await conn.fetchval("SELECT count(*) FROM posts WHERE uri = $1", note_id) == 1


async def test_a_failing_item_gives_up_after_its_last_retry(
    deliver: Deliver, process: Step, conn: asyncpg.Connection, peer: RemotePeer, alice: PeerUser
) -> None:
    create = peer.activity(alice, "Create", f"{alice.uri}/statuses/never")
    await deliver(create)
    for attempt in range(1, len(RETRY_DELAYS) + 2):
        await make_due(conn)
        assert await process() == 1
        assert (await item_state(conn, create["id"]))["attempts"] == attempt
    state = await item_state(conn, create["id"])
    assert state["state"] == "failed" and "FetchFailed" in state["last_error"]
    assert await process() == 0
    assert [retry_delay(n) for n in range(1, 6)] == [60, 300, 900, 2400, None]


async def test_an_expired_lock_makes_an_item_claimable_again_and_the_stale_claim_does_nothing(
    deliver: Deliver, fixture: Fixture, task: InboxTask, conn: asyncpg.Connection, library: LocalActor
) -> None:
    await local_post(conn, library, f"{library.uri.rsplit('/users/', 1)[0]}/objects/eb92579d-3417-42a8-8652-2492c2d4f454")
    await deliver(fixture("mastodon-like"))
    [first] = await task.claim(10)
    assert await task.claim(10) == []  # locked
    await conn.execute("UPDATE inbox_items SET locked_until = now() - interval '1 second'")
    [second] = await task.claim(10)
    assert (first.id, first.attempts, second.attempts) == (second.id, 1, 2)
    await task.process(first)  # the worker whose lock expired: skipped
    assert (await item_state(conn, first.activity_id))["state"] == "pending"
    await task.process(second)
    assert (await item_state(conn, first.activity_id))["state"] == "done"
    assert await conn.fetchval("SELECT count(*) FROM interactions") == 1


async def test_concurrent_claims_never_share_an_item(
    task: InboxTask, conn: asyncpg.Connection, database_url: str, alice: PeerUser
) -> None:
    for n in range(40):
        await queries.store_item(conn, f"{alice.uri}/activities/{n}", "View", alice.uri, None, {"n": n})
    workers = [await connect(database_url) for _ in range(4)]
    try:
        claims = await asyncio.gather(*(queries.claim_items(worker, 15, 60) for worker in workers))
    finally:
        for worker in workers:
            await worker.close()
    ids = [item.id for claim in claims for item in claim]
    assert len(ids) == len(set(ids)) == 40


async def test_an_actors_items_in_one_batch_run_in_the_order_received(
    deliver: Deliver, process: Step, conn: asyncpg.Connection, library: LocalActor, peer: RemotePeer, alice: PeerUser
) -> None:
    post = await local_post(conn, library)
    for _ in range(10):
        like = peer.activity(alice, "Like", post["uri"])
        await deliver(like)
        await deliver(peer.activity(alice, "Undo", like))
    assert await process() == 20
    assert await conn.fetchval("SELECT count(*) FROM interactions") == 0
