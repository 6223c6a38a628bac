"""Deliveries end to end: real PostgreSQL, real HTTP on loopback, signatures checked by the receiving sink."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import asyncpg

from actors.queries import LocalActor
from fedi.assembly import build_worker, open_services, user_agent
from fedi.database import create_pool
from fedi.http_client import HttpClient
from fedi.settings import Settings
from fedi.worker import Worker
from keys.keypairs import KeyVault
from outbox.deliveries import DeliveryTask
from outbox.fanout import enqueue_activity
from tests.conftest import TEST_SECRET
from tests.outbox.sinks import Reply, Sink, note_activity
from tests.processes import clean_environ, fedi_process



def make_worker(pool: asyncpg.Pool, client: HttpClient, vault: KeyVault, batch_size: int = 100) -> Worker:
    """A worker with only the delivery task."""
    return Worker(pool, [DeliveryTask(pool, client, vault)], batch_size=batch_size)


async def test_a_delivery_is_signed_and_recorded(
    conn: asyncpg.Connection, pool: asyncpg.Pool, client: HttpClient, vault: KeyVault, sink: Sink, library: LocalActor
) -> None:
    activity = note_activity(library.uri)
    inboxes = [sink.url("/inbox", "a.test"), sink.url("/users/bob/inbox", "b.test"), sink.url("/inbox", "c.test")]
    await enqueue_activity(conn, actor_id=library.id, activity=activity, inboxes=inboxes)

    assert await make_worker(pool, client, vault).run_until_idle() == 3

    assert sorted((r.host, r.path) for r in sink.received) == sorted(
        [(f"a.test:{sink.port}", "/inbox"), (f"b.test:{sink.port}", "/users/bob/inbox"), (f"c.test:{sink.port}", "/inbox")]
    )
    for received in sink.received:
        assert received.signature_error is None and received.signer == library.uri
        assert received.headers["Content-Type"] == "application/activity+json"
        assert "application/activity+json" in received.headers["Accept"]
        assert received.headers["Digest"].startswith("SHA-256=")  # the sink checked it against the body
        assert 'headers="(request-target) host date digest"' in received.headers["Signature"]
        assert f'keyId="{library.uri}#main-key"' in received.headers["Signature"]
        assert received.headers["User-Agent"] == "fedi-test"
        assert received.activity == activity
    rows = await conn.fetch("SELECT state, attempts, last_status, last_error, locked_until, finished_at FROM deliveries")
    assert [(r["state"], r["attempts"], r["last_status"], r["last_error"], r["locked_until"]) for r in rows] == [
        ("delivered", 1, 202, None, None)
    ] * 3
    assert all(r["finished_at"] is not None for r in rows)
    assert await make_worker(pool, client, vault).run_once() == 0


async def test_two_workers_never_deliver_a_row_twice(
    conn: asyncpg.Connection, database_url: str, pool: asyncpg.Pool, client: HttpClient, vault: KeyVault,
    sink: Sink, library: LocalActor,
) -> None:
    sink.answer(Reply(202, delay=0.01))
    inboxes = [sink.url(f"/users/u{i}/inbox", ("a.test", "b.test", "c.test")[i % 3]) for i in range(240)]
    await enqueue_activity(conn, actor_id=library.id, activity=note_activity(library.uri), inboxes=inboxes)
    other_pool = await create_pool(database_url)
    try:
        first, second = make_worker(pool, client, vault, 40), make_worker(other_pool, client, vault, 40)
        counts = await asyncio.gather(first.run_until_idle(), second.run_until_idle())
    finally:
        await other_pool.close()
    assert sum(counts) == 240 and min(counts) > 0
    assert len(sink.received) == 240 and set(sink.counts().values()) == {1}
    assert await conn.fetchval("SELECT count(*) FROM deliveries WHERE state = 'delivered' AND attempts = 1") == 240


async def test_the_assembled_worker(settings: Settings, database_url: str) -> None:
    async with open_services(settings, database_url) as services:
        worker = build_worker(services)
        names = [task.name for task in worker.tasks]
        assert {"inbox", "scheduled", "deliveries"} <= set(names) and len(set(names)) == len(names)
    assert user_agent(settings) == "fedi/0.1.0 (+https://city.example/)"


async def test_a_killed_worker_leaves_nothing_undelivered(
    tmp_path: Path, database_url: str, conn: asyncpg.Connection, pool: asyncpg.Pool, sink: Sink, library: LocalActor,
) -> None:
    """SIGKILL mid-fan-out, then a restart: every inbox gets the activity, and only rows in flight get it twice.

    A row in flight at the kill may have reached its inbox, and the inbox may have answered, while the
    worker had not yet marked it delivered: its lock expires and it is sent again. That repeat is
    harmless, because receivers deduplicate activities by id. Rows not in flight are never repeated.
    """
    sink.answer(Reply(202, delay=0.03))
    paths = [f"/users/u{i}/inbox" for i in range(300)]
    await enqueue_activity(conn, actor_id=library.id, activity=note_activity(library.uri), inboxes=[sink.url(p) for p in paths])
    env = clean_environ(
        DATABASE_URL=database_url, FEDI_DOMAIN="city.example", FEDI_SECRET_KEY=TEST_SECRET,
        FEDI_ALLOW_PRIVATE_NETWORKS="127.0.0.0/8",
    )
    async with fedi_process("worker", env=env, cwd=tmp_path) as (process, lines):
        for _ in range(1500):
            if len(sink.received) >= 120 or process.returncode is not None:
                break
            await asyncio.sleep(0.02)
        process.send_signal(signal.SIGKILL)
        await process.wait()
    assert 120 <= len(sink.received) < 300, "".join(lines)
    in_flight = {
        r["inbox_url"] for r in await conn.fetch(
            "SELECT inbox_url FROM deliveries WHERE state = 'pending' AND locked_until > now()"
        )
    }
    assert 0 < len(in_flight) <= 100  # the kill interrupted the window the worker had claimed, no more
    # Time passes: the dead worker's locks expire.
    await conn.execute("UPDATE deliveries SET locked_until = now() - interval '1 second' WHERE locked_until > now()")

    async with fedi_process("worker", env=env, cwd=tmp_path) as (process, lines):
        for _ in range(1500):
            if await conn.fetchval("SELECT count(*) FROM deliveries WHERE state = 'delivered'") == 300:
                break
            await asyncio.sleep(0.02)
    assert process.returncode == 0, "".join(lines)
    assert "fedi worker is running" in "".join(lines)

    counts = sink.counts()
    assert set(counts) == set(paths)
    repeated = {path for path, n in counts.items() if n > 1}
    assert all(n <= 2 for n in counts.values())
    assert {sink.url(p) for p in repeated} <= in_flight
    assert all(r.signer == library.uri for r in sink.received)
    assert await conn.fetchval("SELECT count(*) FROM deliveries WHERE state = 'delivered'") == 300
    print(f"\n{len(in_flight)} rows were in flight at the kill; {len(repeated)} inboxes received the activity twice")


async def test_sigterm_finishes_started_deliveries_and_hands_back_the_rest(
    tmp_path: Path, database_url: str, conn: asyncpg.Connection, sink: Sink, library: LocalActor,
) -> None:
    sink.answer(Reply(202, delay=0.03))
    await enqueue_activity(
        conn, actor_id=library.id, activity=note_activity(library.uri), inboxes=[sink.url(f"/u{i}") for i in range(300)]
    )
    env = clean_environ(
        DATABASE_URL=database_url, FEDI_DOMAIN="city.example", FEDI_SECRET_KEY=TEST_SECRET,
        FEDI_ALLOW_PRIVATE_NETWORKS="127.0.0.0/8",
    )
    async with fedi_process("worker", env=env, cwd=tmp_path) as (process, lines):
        for _ in range(1500):
            if len(sink.received) >= 20 or process.returncode is not None:
                break
            await asyncio.sleep(0.02)
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 30) == 0, "".join(lines)
    assert "worker stopped" in "".join(lines)
    states = dict(await conn.fetch("SELECT state, count(*) FROM deliveries GROUP BY state"))
    assert states["delivered"] >= 20 and states["delivered"] + states.get("pending", 0) == 300  # none lost, none failed
    assert await conn.fetchval("SELECT count(*) FROM deliveries WHERE locked_until IS NOT NULL") == 0
    assert len(sink.received) == states["delivered"]
