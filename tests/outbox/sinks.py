"""The remote side of delivery tests: followers on other servers and sink servers standing in for their inboxes.

A sink is an aiohttp server on 127.0.0.1 that records every POST (path, headers, body) and checks its
signature with ``keys.verification.SignatureChecker`` against the sending department's public key as
stored in the database, so a test proves each delivery was correctly signed, digest included. It can
be told to answer a path (or every path) with a status, headers, a delay, or to hang until it closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import asyncpg
from aiohttp import web

from keys.errors import SignatureCheckError
from keys.public_keys import PublicKey
from keys.verification import SignatureChecker

_numbers = itertools.count(1)


@dataclass(frozen=True)
class Reply:
    """How the sink answers: a status with headers, after ``delay`` seconds, or never (``hang``)."""

    status: int = 202
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    hang: bool = False


@dataclass(frozen=True)
class Received:
    """One POST as the sink got it, with the verified signer (or why the signature failed)."""

    path: str
    host: str
    headers: dict[str, str]
    body: bytes
    signer: str | None
    signature_error: str | None

    @property
    def activity(self) -> dict[str, Any]:
        """The body parsed as JSON."""
        return dict(json.loads(self.body))


class Sink:
    """A recording inbox server; ``url(path, host)`` addresses it under any name mapped to 127.0.0.1."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self.port = 0
        self.received: list[Received] = []
        self.default = Reply()
        self.replies: dict[str, Reply] = {}
        self.closing = asyncio.Event()
        self._checker = SignatureChecker(self._public_key)

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        """The address of ``path`` on this sink under the name ``host``."""
        return f"http://{host}:{self.port}{path}"

    def answer(self, reply: Reply, path: str | None = None) -> None:
        """Answer ``path`` (or every path without its own reply) this way from now on."""
        if path is None:
            self.default = reply
        else:
            self.replies[path] = reply

    def counts(self) -> Counter[str]:
        """How many POSTs each path received."""
        return Counter(r.path for r in self.received)

    async def handle(self, request: web.Request) -> web.Response:
        """Record, verify and answer one POST."""
        body = await request.read()
        try:
            verified = await self._checker.verify(
                request.method, request.raw_path, request.host, request.headers, body, scheme="http"
            )
            signer, error = verified.owner, None
        except SignatureCheckError as exc:
            signer, error = None, str(exc)
        self.received.append(Received(request.path, request.host, dict(request.headers), body, signer, error))
        reply = self.replies.get(request.path, self.default)
        if reply.hang or reply.delay:  # closing the sink ends every wait
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.closing.wait(), None if reply.hang else reply.delay)
        return web.Response(status=reply.status, headers=reply.headers)

    async def _public_key(self, key_id: str, refresh: bool) -> PublicKey | None:
        async with self.pool.acquire() as conn:
            row = await conn.fetchrow(
                """SELECT k.key_id, a.uri AS owner, k.public_key_pem AS pem, k.retired_at IS NOT NULL AS retired
                   FROM keys k JOIN actors a ON a.id = k.actor_id WHERE k.key_id = $1""",
                key_id,
            )
        return None if row is None else PublicKey(**dict(row))


class PostReceiver(Protocol):
    """A test server's handler of every POST: it learns its port and is told when it closes."""

    port: int
    closing: asyncio.Event

    async def handle(self, request: web.Request) -> web.StreamResponse: ...


Receiver = TypeVar("Receiver", bound=PostReceiver)


@asynccontextmanager
async def serving_posts(receiver: Receiver) -> AsyncIterator[Receiver]:
    """Serve ``receiver`` on a free loopback port until the block ends (then its waits end too)."""
    app = web.Application()
    app.router.add_post("/{tail:.*}", receiver.handle)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    receiver.port = int(runner.addresses[0][1])
    try:
        yield receiver
    finally:
        receiver.closing.set()
        await runner.cleanup()


def running_sink(pool: asyncpg.Pool) -> AbstractAsyncContextManager[Sink]:
    """A sink listening on a free loopback port until the block ends."""
    return serving_posts(Sink(pool))


async def remote_actor(
    conn: asyncpg.Connection, host: str, *, inbox: str | None = None, shared_inbox: str | None = None, deleted: bool = False
) -> int:
    """A remote actor on ``host`` (inbox ``<uri>/inbox`` unless given); returns its id."""
    username = f"user{next(_numbers)}"
    uri = f"https://{host}/users/{username}"
    return int(
        await conn.fetchval(
            """INSERT INTO actors (uri, local, actor_type, username, domain, inbox_url, shared_inbox_url, deleted_at)
               VALUES ($1, false, 'Person', $2, $3, $4, $5, CASE WHEN $6 THEN now() END) RETURNING id""",
            uri, username, host, inbox or f"{uri}/inbox", shared_inbox, deleted,
        )
    )


async def follow(conn: asyncpg.Connection, follower_id: int, followee_id: int, state: str = "accepted") -> None:
    """``follower`` follows ``followee``."""
    await conn.execute(
        "INSERT INTO follows (uri, follower_id, followee_id, state) VALUES ($1, $2, $3, $4)",
        f"https://remote.example/follows/{next(_numbers)}", follower_id, followee_id, state,
    )


async def block(conn: asyncpg.Connection, blocker_id: int, blocked_id: int) -> None:
    """``blocker`` blocks ``blocked``."""
    await conn.execute(
        "INSERT INTO blocks (uri, blocker_id, blocked_id) VALUES ($1, $2, $3)",
        f"https://remote.example/blocks/{next(_numbers)}", blocker_id, blocked_id,
    )


def note_activity(actor_uri: str, number: int = 1) -> dict[str, Any]:
    """A public Create{Note} by ``actor_uri``."""
    note = f"{actor_uri}/posts/{number}"
    return {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": f"{note}/activity",
        "type": "Create",
        "actor": actor_uri,
        "to": ["https://www.w3.org/ns/activitystreams#Public"],
        "cc": [f"{actor_uri}/followers"],
        "object": {"id": note, "type": "Note", "attributedTo": actor_uri, "content": f"<p>Notice n° {number}</p>"},
    }
