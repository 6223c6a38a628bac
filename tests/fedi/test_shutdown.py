"""Graceful shutdown of real processes: SIGTERM lets work in flight finish, hands back the rest, exits 0."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import asyncpg
import pytest

from actors.queries import LocalActor
from fedi.database import create_pool
from fedi.settings import Settings
from keys.keypairs import KeyVault
from outbox.fanout import enqueue_activity
from tests.conftest import TEST_SECRET
from tests.factories import make_department
from tests.outbox.sinks import Reply, Sink, note_activity, running_sink
from tests.processes import clean_environ, fedi_process, free_port, wait_until_up


@pytest.fixture
async def sink(database_url: str) -> AsyncIterator[Sink]:
    pool = await create_pool(database_url, max_size=2)
    try:
        async with running_sink(pool) as server:
            yield server
    finally:
        await pool.close()


@pytest.fixture
async def library(conn: asyncpg.Connection, settings: Settings, vault: KeyVault) -> LocalActor:
    return await make_department(conn, settings, vault, "library")


def environment(database_url: str) -> dict[str, str]:
    return clean_environ(
        DATABASE_URL=database_url, FEDI_DOMAIN="city.example", FEDI_SECRET_KEY=TEST_SECRET,
        FEDI_ALLOW_PRIVATE_NETWORKS="127.0.0.0/8",
    )


async def wait_for(condition: object, process: asyncio.subprocess.Process, lines: list[str]) -> None:
    for _ in range(1500):
        if condition() or process.returncode is not None:  # type: ignore[operator]
            return
        await asyncio.sleep(0.02)
    raise AssertionError("".join(lines))


async def test_sigterm_finishes_started_deliveries_and_releases_the_rest(
    tmp_path: Path, database_url: str, conn: asyncpg.Connection, sink: Sink, library: LocalActor
) -> None:
    sink.answer(Reply(202, delay=0.5))  # the worker sends 50 at a time, 4 connections per host at once
    await enqueue_activity(
        conn, actor_id=library.id, activity=note_activity(library.uri), inboxes=[sink.url(f"/u{i}") for i in range(60)]
    )
    async with fedi_process("worker", env=environment(database_url), cwd=tmp_path) as (process, lines):
        await wait_for(lambda: len(sink.received) >= 4, process, lines)  # 50 started, 10 claimed but waiting
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 30) == 0, "".join(lines)
    states = {
        r["state"]: (r["n"], r["attempts"], r["locked"])
        for r in await conn.fetch(
            """SELECT state, count(*) AS n, sum(attempts) AS attempts, count(locked_until) AS locked
               FROM deliveries GROUP BY state"""
        )
    }
    assert len(sink.received) == 50
    assert states["delivered"] == (50, 50, 0)  # the started ones finished during the grace period
    assert states["pending"] == (10, 0, 0)  # the others were handed back untouched, due at once
    assert "released 10 claimed items" in "".join(lines)


async def test_a_delivery_that_outlasts_the_grace_period_is_left_pending(
    tmp_path: Path, database_url: str, conn: asyncpg.Connection, sink: Sink, library: LocalActor
) -> None:
    sink.answer(Reply(hang=True))
    await enqueue_activity(conn, actor_id=library.id, activity=note_activity(library.uri), inboxes=[sink.url("/slow")])
    args = ("worker", "--graceful-timeout", "1")
    async with fedi_process(*args, env=environment(database_url), cwd=tmp_path) as (process, lines):
        await wait_for(lambda: len(sink.received) == 1, process, lines)
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 20) == 0, "".join(lines)
    row = await conn.fetchrow("SELECT state, attempts, locked_until, next_attempt_at <= now() AS due FROM deliveries")
    assert dict(row) == {"state": "pending", "attempts": 1, "locked_until": None, "due": True}  # not lost: retried next
    assert "did not finish in 1 s: cancelling it" in "".join(lines)


async def test_a_request_in_flight_at_sigterm_still_gets_its_answer(
    tmp_path: Path, database_url: str, http: aiohttp.ClientSession
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = environment(database_url)
    async with fedi_process("serve", "--port", str(port), env=env, cwd=tmp_path) as (process, lines):
        await wait_until_up(http, f"{base}/healthz", lines)
        sent_half = asyncio.Event()
        signalled = asyncio.Event()

        async def body() -> AsyncIterator[bytes]:
            yield b'{"id": "https://elsewhere.example/1", '
            sent_half.set()
            await signalled.wait()
            yield b'"type": "Like", "actor": "https://elsewhere.example/a"}'

        async def slow_post() -> tuple[int, dict[str, str]]:
            async with http.post(f"{base}/inbox", data=body(), headers={"Content-Type": "application/activity+json"}) as response:
                return response.status, await response.json()

        request = asyncio.create_task(slow_post())
        await sent_half.wait()
        await asyncio.sleep(0.2)  # the server has the request's head and half its body
        process.send_signal(signal.SIGTERM)
        for _ in range(300):  # the listening socket closes first: new connections are refused
            try:
                async with aiohttp.ClientSession() as fresh, fresh.get(f"{base}/healthz"):
                    pass
            except aiohttp.ClientConnectorError:
                break
            await asyncio.sleep(0.02)
        else:
            raise AssertionError("the server kept accepting connections:\n" + "".join(lines))
        signalled.set()
        status, answer = await asyncio.wait_for(request, 20)
        assert status == 401 and answer["error"].startswith("signature: ")  # the full answer, not a reset connection
        assert await asyncio.wait_for(process.wait(), 30) == 0, "".join(lines)
