"""Fan-out: one delivery per distinct inbox, idempotent, nothing for pending, blocked or deleted followers."""

from __future__ import annotations

import asyncio

import asyncpg

from fedi.metrics import DELIVERIES
from fedi.settings import Settings
from fedi.worker import WAKE_CHANNEL
from keys.keypairs import KeyVault
from outbox.fanout import enqueue_activity, follower_inboxes, host_of
from tests.factories import make_department
from tests.outbox.sinks import block, follow, note_activity, remote_actor


async def test_one_delivery_per_distinct_inbox(conn: asyncpg.Connection, settings: Settings, vault: KeyVault) -> None:
    library = await make_department(conn, settings, vault, "library")
    parks = await make_department(conn, settings, vault, "parks")
    for _ in range(3):  # three users of one server share its inbox
        await follow(conn, await remote_actor(conn, "a.example", shared_inbox="https://a.example/inbox"), library.id)
    for _ in range(2):
        await follow(conn, await remote_actor(conn, "b.example", shared_inbox="https://b.example/inbox"), library.id)
    personal = await remote_actor(conn, "c.example")  # a server without a shared inbox
    other_personal = await remote_actor(conn, "c.example")
    await follow(conn, personal, library.id)
    await follow(conn, other_personal, library.id)
    await follow(conn, other_personal, parks.id)
    await follow(conn, await remote_actor(conn, "d.example"), library.id, state="pending")
    blocker = await remote_actor(conn, "e.example")  # blocks the library
    await follow(conn, blocker, library.id)
    await block(conn, blocker, library.id)
    blocked = await remote_actor(conn, "f.example")  # blocked by the library
    await follow(conn, blocked, library.id)
    await block(conn, library.id, blocked)
    await follow(conn, await remote_actor(conn, "g.example", deleted=True), library.id)
    await follow(conn, parks.id, library.id)  # a local follower needs no delivery

    inboxes = await follower_inboxes(conn, library.id)
    personal_inboxes = [await conn.fetchval("SELECT inbox_url FROM actors WHERE id = $1", i) for i in (personal, other_personal)]
    assert inboxes == sorted(["https://a.example/inbox", "https://b.example/inbox", *personal_inboxes])

    activity = note_activity(library.uri)
    async with conn.transaction():
        added = await enqueue_activity(conn, actor_id=library.id, activity=activity, inboxes=inboxes + inboxes)
    assert added == 4
    rows = await conn.fetch("SELECT inbox_url, host, state, attempts FROM deliveries ORDER BY inbox_url")
    assert [r["inbox_url"] for r in rows] == inboxes
    assert {r["host"] for r in rows} == {"a.example", "b.example", "c.example"}
    assert {(r["state"], r["attempts"]) for r in rows} == {("pending", 0)}
    stored = await conn.fetchrow("SELECT activity_id, actor_id, activity_type, payload, fanned_out_at FROM outbox_activities")
    assert (stored["activity_id"], stored["actor_id"], stored["activity_type"]) == (activity["id"], library.id, "Create")
    assert stored["payload"] == activity and stored["fanned_out_at"] is not None

    # Fanning out again (a retried transaction, a second publisher call) adds nothing.
    assert await enqueue_activity(conn, actor_id=library.id, activity=activity, inboxes=inboxes) == 0
    assert await conn.fetchval("SELECT count(*) FROM deliveries") == 4
    assert await conn.fetchval("SELECT count(*) FROM outbox_activities") == 1
    # A new inbox for the same activity is added to the existing row.
    assert await enqueue_activity(conn, actor_id=library.id, activity=activity, inboxes=["https://h.example/inbox"]) == 1
    assert await conn.fetchval("SELECT count(DISTINCT outbox_activity_id) FROM deliveries") == 1


async def test_unusable_urls_are_left_out(conn: asyncpg.Connection, settings: Settings, vault: KeyVault) -> None:
    library = await make_department(conn, settings, vault, "library")
    inboxes = ["ftp://a.example/inbox", "https:///inbox", "not a url", "https://A.Example:443/inbox", "http://b.example:8080/x"]
    added = await enqueue_activity(conn, actor_id=library.id, activity=note_activity(library.uri), inboxes=inboxes)
    assert added == 2
    assert {r["host"] for r in await conn.fetch("SELECT host FROM deliveries")} == {"a.example", "b.example:8080"}


def test_host_of() -> None:
    assert host_of("https://Mastodon.Social/inbox") == "mastodon.social"
    assert host_of("https://a.example:443/inbox") == "a.example"
    assert host_of("http://a.example:80/inbox") == "a.example"
    assert host_of("http://127.0.0.1:8123/inbox") == "127.0.0.1:8123"
    assert host_of("https://[2001:db8::1]:8443/inbox") == "[2001:db8::1]:8443"
    assert host_of("https://a.example:99999/inbox") is None
    assert host_of("mailto:someone@a.example") is None


def skipped_count() -> float:
    """The ``fedi_deliveries{outcome="skipped"}`` counter of this process."""
    return DELIVERIES.labels("skipped")._value.get()


async def test_deliveries_to_a_paused_host_are_skipped(conn: asyncpg.Connection, settings: Settings, vault: KeyVault) -> None:
    library = await make_department(conn, settings, vault, "library")
    await conn.execute(
        """INSERT INTO hosts (host, consecutive_failures, failing_since, unavailable_until)
           VALUES ('down.example', 40, now() - interval '4 days', now() + interval '1 day'),
                  ('was-down.example', 40, now() - interval '5 days', now() - interval '1 minute')"""
    )
    skipped_before = skipped_count()
    inboxes = ["https://down.example/inbox", "https://up.example/inbox", "https://was-down.example/inbox"]
    assert await enqueue_activity(conn, actor_id=library.id, activity=note_activity(library.uri), inboxes=inboxes) == 3
    states = {r["host"]: (r["state"], r["finished_at"] is not None) for r in await conn.fetch("SELECT * FROM deliveries")}
    assert states == {
        "down.example": ("skipped", True), "up.example": ("pending", False), "was-down.example": ("pending", False),
    }
    assert skipped_count() == skipped_before + 1  # counted in /metrics as a skipped delivery


async def test_enqueueing_wakes_workers_at_commit(database_url: str, conn: asyncpg.Connection, settings: Settings, vault: KeyVault) -> None:
    library = await make_department(conn, settings, vault, "library")
    listener = await asyncpg.connect(database_url)
    woken = asyncio.Event()
    await listener.add_listener(WAKE_CHANNEL, lambda *args: woken.set())
    try:
        async with conn.transaction():
            await enqueue_activity(conn, actor_id=library.id, activity=note_activity(library.uri), inboxes=["https://a.example/inbox"])
            await asyncio.sleep(0.05)
            assert not woken.is_set()
        await asyncio.wait_for(woken.wait(), 5)
    finally:
        await listener.close()
