"""Faults beyond a misbehaving inbox: a follower that answers one byte a second, PostgreSQL restarting under load.

The slow follower is driven one worker round at a time. The restart runs the real thing: a PostgreSQL
of the test's own, ``fedi serve --no-worker`` and ``fedi worker`` as processes, a Mastodon-like peer
posting signed activities without pause and a post fanned out to a few hundred followers, while the
database is stopped and started again under them. Processes are observed by polling the database
and the sinks until a deadline, never by sleeping a fixed time.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterator
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest
import trustme
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import rsa

from actors.queries import LocalActor
from fedi import embedded
from fedi.database import connect
from fedi.http_client import HttpClient
from fedi.migrate import migrate
from fedi.settings import Settings, load_settings
from fedi.worker import Worker
from keys.keypairs import KeyVault
from keys.public_keys import PublicKey
from outbox.deliveries import DeliveryTask
from outbox.fanout import enqueue_activity
from tests.conftest import TEST_SECRET
from tests.factories import make_department
from tests.outbox.sinks import Reply, Sink, follow, note_activity, remote_actor, running_sink, serving_posts
from tests.peers import PUBLIC, RemotePeer, running_peer
from tests.processes import clean_environ, eventually, fedi_process, free_port, run_fedi, wait_until_up

LOOPBACK = "127.0.0.0/8"


# --- a follower that answers one byte a second ---------------------------------------------------


@dataclass
class DripServer:
    """An inbox that sends its 202 headers at once, then its body one byte a second (until ``prompt``)."""

    port: int = 0
    started: int = 0
    prompt: bool = False
    closing: asyncio.Event = field(default_factory=asyncio.Event)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def handle(self, request: web.Request) -> web.StreamResponse:
        await request.read()
        self.started += 1
        if self.prompt:
            return web.Response(status=202)
        response = web.StreamResponse(status=202, headers={"Content-Length": "600"})
        await response.prepare(request)
        for _ in range(600):
            try:
                await response.write(b".")
            except ConnectionResetError:  # the sender gave up waiting
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.closing.wait(), 1.0)
            if self.closing.is_set():
                break
        return response


def running_drip() -> AbstractAsyncContextManager[DripServer]:
    """A drip server on a free loopback port."""
    return serving_posts(DripServer())


@pytest.fixture
async def library(conn: asyncpg.Connection, settings: Settings, vault: KeyVault) -> LocalActor:
    return await make_department(conn, settings, vault, "library")


async def test_a_follower_answering_one_byte_a_second_times_out_without_holding_up_the_others(
    conn: asyncpg.Connection, pool: asyncpg.Pool, vault: KeyVault, library: LocalActor
) -> None:
    fast_paths = [f"/users/u{i}/inbox" for i in range(20)]
    async with running_drip() as drip, running_sink(pool) as sink, HttpClient(
        (ipaddress.ip_network(LOOPBACK),), user_agent="fedi-test", total_timeout=20
    ) as client:
        slow = drip.url("/inbox")
        await enqueue_activity(
            conn, actor_id=library.id, activity=note_activity(library.uri), inboxes=[slow, *(sink.url(p) for p in fast_paths)]
        )
        worker = Worker(pool, [DeliveryTask(pool, client, vault, timeout=4)])
        round_ = asyncio.create_task(worker.run_once())

        async def fast_ones_delivered() -> bool:
            done = await conn.fetchval("SELECT count(*) FROM deliveries WHERE state = 'delivered'")
            return bool(done == len(fast_paths) and drip.started == 1)

        await eventually(fast_ones_delivered, "the fast followers were not served while the slow one dripped")
        # every fast follower has its delivery, recorded, while the slow one is still being answered
        assert not round_.done()
        assert sorted(sink.counts()) == sorted(fast_paths) and set(sink.counts().values()) == {1}
        assert all(r.signer == library.uri for r in sink.received)
        row = await conn.fetchrow("SELECT state, locked_until, last_error FROM deliveries WHERE inbox_url = $1", slow)
        assert (row["state"], row["last_error"]) == ("pending", None) and row["locked_until"] is not None

        assert await round_ == len(fast_paths) + 1
        row = await conn.fetchrow(
            """SELECT state, attempts, last_status, last_error, locked_until,
                      extract(epoch FROM next_attempt_at - now())::float8 AS wait
               FROM deliveries WHERE inbox_url = $1""",
            slow,
        )
        assert (row["state"], row["attempts"], row["last_status"], row["locked_until"]) == ("pending", 1, None, None)
        assert "timed out" in row["last_error"] and 0.9 * 60 - 2 <= row["wait"] <= 66  # retried in about a minute
        assert await conn.fetchval("SELECT consecutive_failures FROM hosts WHERE host = $1", f"127.0.0.1:{drip.port}") == 1

        # a minute later the follower answers normally: delivered on the retry, nobody else hears twice
        drip.prompt = True
        await conn.execute("UPDATE deliveries SET next_attempt_at = now() WHERE state = 'pending'")
        assert await worker.run_once() == 1
        assert await conn.fetchval("SELECT state FROM deliveries WHERE inbox_url = $1", slow) == "delivered"
        assert drip.started == 2 and set(sink.counts().values()) == {1}


# --- PostgreSQL restarted under load -------------------------------------------------------------


@dataclass
class OwnPostgres:
    """A PostgreSQL server of this test's own that it may stop and start."""

    server: Any
    pgdata: Path

    def url(self, database: str) -> str:
        return str(self.server.get_uri(database))

    def _pg_ctl(self, *args: str) -> None:
        embedded.pgserver.pg_ctl(list(args), pgdata=self.pgdata, user=self.server.system_user, timeout=60)

    async def stop(self) -> None:
        """Stop it the way an administrator's restart does (fast: open sessions are terminated)."""
        await asyncio.to_thread(self._pg_ctl, "-w", "-m", "fast", "stop")

    async def start(self) -> None:
        """Start it again on the same socket."""
        socket_dir = self.server.get_postmaster_info().socket_dir
        log = str(self.pgdata / "log")
        await asyncio.to_thread(self._pg_ctl, "-w", "-o", '-h ""', "-o", f"-k {socket_dir}", "-l", log, "start")


@pytest.fixture
def own_postgres() -> Iterator[OwnPostgres]:
    """Start a dedicated PostgreSQL (short path: its socket lives in its data directory); remove it afterwards."""
    base = Path(tempfile.mkdtemp(prefix="fedi-pg-"))
    pgdata = base / "data"
    server = embedded.pgserver.get_server(pgdata, cleanup_mode="delete")
    own = OwnPostgres(server, pgdata)
    try:
        yield own
    finally:
        with contextlib.suppress(Exception):
            own._pg_ctl("-w", "-m", "immediate", "stop")  # whichever postmaster runs now
        server.cleanup()
        shutil.rmtree(base, ignore_errors=True)


class KnownKeySink(Sink):
    """A recording inbox that checks signatures against keys given up front (its database may be down)."""

    def __init__(self, keys: dict[str, PublicKey]) -> None:
        super().__init__(pool=None)  # type: ignore[arg-type]
        self.keys = keys

    async def _public_key(self, key_id: str, refresh: bool) -> PublicKey | None:
        return self.keys.get(key_id)


def running_known_key_sink(keys: dict[str, PublicKey]) -> AbstractAsyncContextManager[KnownKeySink]:
    """A sink that checks signatures against ``keys`` only, on a free loopback port."""
    return serving_posts(KnownKeySink(keys))


@dataclass
class Sender:
    """A peer user posting replies to one post without pause; every answer is recorded."""

    peer: RemotePeer
    inbox: str
    post_uri: str
    answers: list[tuple[str, int, Any]] = field(default_factory=list)
    sent: dict[str, dict[str, Any]] = field(default_factory=dict)
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    def activity(self) -> dict[str, Any]:
        alice = self.peer.users["alice"]
        note = self.peer.note(alice, "<p>Is the reading room open?</p>", inReplyTo=self.post_uri)
        activity = self.peer.activity(alice, "Create", note, to=[PUBLIC])
        self.sent[activity["id"]] = activity
        return activity

    async def send(self, http: aiohttp.ClientSession, activity: dict[str, Any]) -> tuple[int, Any]:
        try:
            status, body = await self.peer.deliver(http, self.peer.users["alice"], self.inbox, activity)
        except (aiohttp.ClientError, TimeoutError) as error:  # a hung or dropped connection is a failure too
            status, body = 0, repr(error)
        self.answers.append((activity["id"], status, body))
        return status, body

    async def run(self, http: aiohttp.ClientSession) -> None:
        while not self.stop.is_set():
            await self.send(http, self.activity())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop.wait(), 0.02)

    def ids(self, status: int) -> list[str]:
        return [activity_id for activity_id, answered, _ in self.answers if answered == status]


async def test_postgresql_restarts_while_activities_arrive_and_deliveries_run(
    own_postgres: OwnPostgres, test_ca: trustme.CA, tmp_path: Path, rsa_keys: list[rsa.RSAPrivateKey]
) -> None:
    followers = 400
    url = own_postgres.url("postgres")
    admin = await asyncpg.connect(url)
    await admin.execute("CREATE DATABASE fedi")
    await admin.close()
    url = own_postgres.url("fedi")
    port = free_port()
    domain = f"127.0.0.1:{port}"
    settings = load_settings(environ={}, domain=domain, scheme="http", secret_key=TEST_SECRET, database_url=url)
    conn = await connect(url)
    try:
        await migrate(conn)
        library = await make_department(conn, settings, KeyVault(TEST_SECRET), "library")
        key = await conn.fetchrow("SELECT key_id, public_key_pem FROM keys WHERE actor_id = $1", library.id)
        keys = {key["key_id"]: PublicKey(key["key_id"], library.uri, key["public_key_pem"])}
    finally:
        await conn.close()
    ca_file = tmp_path / "ca.pem"
    test_ca.cert_pem.write_to_path(ca_file)
    env = clean_environ(
        DATABASE_URL=url, FEDI_DOMAIN=domain, FEDI_SCHEME="http", FEDI_SECRET_KEY=TEST_SECRET,
        FEDI_ALLOW_PRIVATE_NETWORKS=LOOPBACK, FEDI_DATA_DIR=str(tmp_path / "var"), SSL_CERT_FILE=str(ca_file),
    )

    async with contextlib.AsyncExitStack() as stack:
        peer = await stack.enter_async_context(running_peer("127.0.0.1", test_ca, tmp_path))
        peer.add_user("alice", rsa_keys[0])
        sink = await stack.enter_async_context(running_known_key_sink(keys))
        sink.answer(Reply(202, delay=0.3))
        conn = await connect(url)
        stack.push_async_callback(conn.close)
        for i in range(followers):
            follower = await remote_actor(conn, "127.0.0.1", inbox=sink.url(f"/users/f{i}/inbox"))
            await follow(conn, follower, library.id)
        http = await stack.enter_async_context(aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)))
        serve, serve_lines = await stack.enter_async_context(
            fedi_process("serve", "--no-worker", "--port", str(port), env=env, cwd=tmp_path)
        )
        await wait_until_up(http, f"http://{domain}/.well-known/nodeinfo", serve_lines)
        worker, worker_lines = await stack.enter_async_context(fedi_process("worker", env=env, cwd=tmp_path))

        published = await run_fedi("post", "library", "The reading room opens at 9 today.", env=env, cwd=tmp_path)
        assert published.status == 0, published
        post_uri = await conn.fetchval("SELECT uri FROM posts WHERE local")
        sender = Sender(peer, f"http://{domain}/users/library/inbox", post_uri)
        sending = asyncio.create_task(sender.run(http))
        try:
            await eventually(lambda: len(sink.received) >= 60 and len(sender.ids(202)) >= 5,
                             "deliveries and received activities did not get going", lines=worker_lines)
            await conn.close()
            await own_postgres.stop()
            await eventually(lambda: len(sender.ids(503)) >= 3, "no request met the outage", lines=serve_lines)
            await own_postgres.start()
            conn = await connect(url)
            stack.push_async_callback(conn.close)
            accepted_before = len(sender.ids(202))
            await eventually(lambda: len(sender.ids(202)) >= accepted_before + 10,
                             "the inbox did not accept activities again", lines=serve_lines)
        finally:
            sender.stop.set()
            await sending

        # a peer retries what was refused during the outage: accepted now
        for activity_id, status, _ in list(sender.answers):
            if status == 503:
                assert (await sender.send(http, sender.sent[activity_id]))[0] == 202

        statuses = Counter(status for _, status, _ in sender.answers)
        assert set(statuses) <= {202, 503}, statuses  # never a 500, never a hung or dropped connection
        for _, status, body in sender.answers:
            if status == 503:
                assert isinstance(body, dict) and "database" in body["error"]
        accepted = sorted(set(sender.ids(202)))

        async def everything_settled() -> bool:
            delivered = await conn.fetchval("SELECT count(*) FROM deliveries WHERE state = 'delivered'")
            done = await conn.fetchval(
                "SELECT count(*) FROM inbox_items WHERE activity_id = ANY($1::text[]) AND state = 'done'", accepted
            )
            return bool(delivered == followers and done == len(accepted))

        await eventually(everything_settled, "the queues did not recover", lines=worker_lines, deadline=120)
        assert serve.returncode is None and worker.returncode is None  # nobody restarted them

        # every accepted activity is stored once and its reply kept once
        stored = await conn.fetch(
            "SELECT activity_id, count(*) AS n FROM inbox_items WHERE activity_id = ANY($1::text[]) GROUP BY activity_id",
            accepted,
        )
        assert len(stored) == len(accepted) and {r["n"] for r in stored} == {1}
        replies = await conn.fetchval("SELECT count(*) FROM posts WHERE NOT local AND in_reply_to_id IS NOT NULL")
        assert replies == len(accepted)
        # every follower got the post; a repeat only inside the in-flight window (one claimed batch)
        counts = sink.counts()
        assert set(counts) == {f"/users/f{i}/inbox" for i in range(followers)}
        repeated = [path for path, n in counts.items() if n > 1]
        assert max(counts.values()) <= 2 and len(repeated) <= 100, len(repeated)
        assert all(r.signer == library.uri for r in sink.received)
        # no request failed with a stack trace (asyncpg's pool may log its own reconnect attempts)
        unexpected = [line for line in serve_lines if "Traceback" in line and "asyncpg.pool" not in line]
        assert unexpected == [], unexpected
        print(f"\n{dict(statuses)} answers; {len(repeated)} followers received the post twice")
