"""End to end through nginx: federation with a Mastodon-like peer and a fan-out to 500 followers
handled by two workers, plus what the proxy itself promises (TLS, HTTP/2, redirects, caching, limits).

One stack (nginx, two ``fedi serve --no-worker``, two ``fedi worker``, one database) serves the module.
"""

from __future__ import annotations

import asyncio
import io
import json
import secrets
import ssl
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import asyncpg
import pytest
import trustme
from cryptography.hazmat.primitives.asymmetric import rsa

from fedi.database import connect, create_pool
from tests.conftest import TEST_SECRET
from tests.deploy.stack import DOMAIN, Stack, client_session, eventually, running_stack
from tests.outbox.sinks import follow, remote_actor, running_sink
from tests.peers import ACTIVITY_JSON, RemotePeer, running_peer

FOLLOWERS = 500
SINKS = 5
HTTP2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
SETTINGS_FRAME_TYPE = 0x4
EMPTY_SETTINGS_FRAME = bytes([0, 0, 0, SETTINGS_FRAME_TYPE, 0, 0, 0, 0, 0])
HTML = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8"


@pytest.fixture(scope="module")
async def stack_database(postgres_server: Any, template_database: str) -> AsyncIterator[str]:
    """A migrated database of its own for the module's stack."""
    admin = await asyncpg.connect(postgres_server.get_uri("postgres"))
    name = f"deploy_{secrets.token_hex(4)}"
    try:
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_database}"')
        yield postgres_server.get_uri(name)
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture(scope="module")
async def stack(stack_database: str, test_ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    """The running instance, with the department ``library``."""
    async with running_stack(stack_database, test_ca, tmp_path_factory.mktemp("deploy"), TEST_SECRET) as running:
        created = await running.fedi("admin", "department", "create", "library", "--name", "City Library")
        assert created.status == 0, created
        yield running


@pytest.fixture(scope="module")
async def remote(test_ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory, rsa_keys: list[rsa.RSAPrivateKey]) -> AsyncIterator[RemotePeer]:
    """A Mastodon-like server on loopback, reached by its IP address, with the user ``alice``."""
    async with running_peer("127.0.0.1", test_ca, tmp_path_factory.mktemp("peer")) as peer:
        peer.add_user("alice", rsa_keys[0])
        yield peer


@pytest.fixture
async def client(test_ca: trustme.CA) -> AsyncIterator[aiohttp.ClientSession]:
    """A client of the instance (through nginx) that trusts the test CA."""
    async with client_session(test_ca) as session:
        yield session


@pytest.fixture
async def db(stack: Stack) -> AsyncIterator[asyncpg.Connection]:
    """A connection to the instance's database."""
    conn = await connect(stack.database_url)
    yield conn
    await conn.close()


def activities_of(peer: RemotePeer, kind: str) -> list[dict[str, Any]]:
    """The activities of type ``kind`` the peer received."""
    return [activity for activity in peer.inbox_posts() if activity.get("type") == kind]


async def test_federation_through_the_proxy_with_two_workers(
    stack: Stack, remote: RemotePeer, client: aiohttp.ClientSession, db: asyncpg.Connection
) -> None:
    alice = remote.users["alice"]
    library = f"{stack.base_url}/users/library"
    pool = await create_pool(stack.database_url, max_size=4)
    try:
        async with running_sink(pool) as s1, running_sink(pool) as s2, running_sink(pool) as s3, \
                running_sink(pool) as s4, running_sink(pool) as s5:
            sinks = [s1, s2, s3, s4, s5]
            library_id = await db.fetchval("SELECT id FROM actors WHERE uri = $1", library)
            for number in range(FOLLOWERS):
                sink = sinks[number % SINKS]
                follower = await remote_actor(db, f"127.0.0.1:{sink.port}", inbox=sink.url(f"/inboxes/{number}"))
                await follow(db, follower, library_id)

            # A citizen follows through the proxy: the signature over `host` verifies behind nginx.
            follow_activity = remote.activity(alice, "Follow", library)
            status, body = await remote.deliver(client, alice, f"{library}/inbox", follow_activity)
            assert status == 202, body
            accept = await eventually(lambda: activities_of(remote, "Accept"), "the Accept of the follow", stack.output)
            assert accept[0]["object"]["id"] == follow_activity["id"] and accept[0]["actor"] == library

            # A post fans out to the 500 followers and the peer, each delivery made once by one of the workers.
            posted = await stack.fedi("post", "library", "Road works on Main Street end today.")
            assert posted.status == 0, posted
            post_uri = posted.out.strip()
            create = await db.fetchrow(
                "SELECT o.id, o.activity_id FROM outbox_activities o JOIN posts p ON p.id = o.post_id "
                "WHERE p.uri = $1 AND o.activity_type = 'Create'", post_uri,
            )
            await eventually(lambda: _all_delivered(db, create["id"], FOLLOWERS + 1), "the fan-out", stack.output)
            rows = await db.fetch("SELECT inbox_url, state, attempts FROM deliveries WHERE outbox_activity_id = $1", create["id"])
            assert len(rows) == FOLLOWERS + 1
            assert {(row["state"], row["attempts"]) for row in rows} == {("delivered", 1)}
            received = [r for sink in sinks for r in sink.received]
            assert len(received) == FOLLOWERS
            for sink in sinks:
                assert set(sink.counts().values()) == {1} and len(sink.counts()) == FOLLOWERS // SINKS
            assert {r.signer for r in received} == {library} and {r.signature_error for r in received} == {None}
            assert {r.activity["id"] for r in received} == {create["activity_id"]}
            assert [a["object"]["id"] for a in activities_of(remote, "Create")] == [post_uri]

            # The citizen answers through the proxy; the reply joins the post's thread.
            note = remote.note(alice, "<p>Will the bus stop move back too?</p>", inReplyTo=post_uri,
                               cc=[f"{alice.uri}/followers", library])
            reply = remote.activity(alice, "Create", note, to=note["to"], cc=note["cc"])
            status, body = await remote.deliver(client, alice, f"{stack.base_url}/inbox", reply)
            assert status == 202, body
            stored = await eventually(
                lambda: db.fetchrow("SELECT p.in_reply_to_uri FROM posts p WHERE p.uri = $1", note["id"]),
                "the reply being stored", stack.output,
            )
            assert stored["in_reply_to_uri"] == post_uri
            accepted = await db.fetch(
                "SELECT activity_id, state FROM inbox_items WHERE activity_id = ANY($1::text[]) ORDER BY id",
                [follow_activity["id"], reply["id"]],
            )
            assert [(row["activity_id"], row["state"]) for row in accepted] == [
                (follow_activity["id"], "done"), (reply["id"], "done")
            ]
            async with client.get(post_uri, headers={"Accept": HTML}) as response:
                assert response.status == 200 and "Will the bus stop move back too?" in await response.text()
    finally:
        await pool.close()


async def _all_delivered(db: asyncpg.Connection, activity: int, expected: int) -> bool:
    counts = await db.fetchrow(
        "SELECT count(*) AS total, count(*) FILTER (WHERE state = 'pending') AS pending FROM deliveries "
        "WHERE outbox_activity_id = $1", activity,
    )
    return bool(counts["total"] == expected and counts["pending"] == 0)


async def test_a_signature_for_another_host_is_refused_even_with_x_forwarded_host(
    stack: Stack, remote: RemotePeer, client: aiohttp.ClientSession, db: asyncpg.Connection
) -> None:
    alice = remote.users["alice"]
    url = f"{stack.base_url}/users/library/inbox"
    activity = remote.activity(alice, "Follow", f"{stack.base_url}/users/library")
    body = json.dumps(activity).encode()
    headers = remote.signed_headers(alice, url, body, host="other.example")
    headers.update({"Host": urlsplit(url).netloc, "X-Forwarded-Host": "other.example"})
    async with client.post(url, data=body, headers=headers) as response:
        assert response.status == 401
        assert "signature" in (await response.json())["error"]
    assert await db.fetchval("SELECT count(*) FROM inbox_items WHERE activity_id = $1", activity["id"]) == 0


async def test_requests_for_another_name_get_no_answer(stack: Stack, client: aiohttp.ClientSession) -> None:
    with pytest.raises(aiohttp.ServerDisconnectedError):
        async with client.get(f"http://127.0.0.1:{stack.site.http_port}/users/library", headers={"Host": "other.example"}):
            pass
    with pytest.raises(aiohttp.ClientConnectorError):  # no certificate is offered for other names
        async with client.get(f"https://other.example:{stack.site.https_port}/"):
            pass


async def test_plain_http_redirects_to_https(stack: Stack, client: aiohttp.ClientSession) -> None:
    url = f"http://{DOMAIN}:{stack.site.http_port}/@library?page=2"
    async with client.get(url, allow_redirects=False) as response:
        assert response.status == 301
        assert response.headers["Location"] == f"https://{DOMAIN}/@library?page=2"


async def test_tls_offers_http2(stack: Stack, test_ca: trustme.CA) -> None:
    context = ssl.create_default_context()
    test_ca.configure_trust(context)
    context.set_alpn_protocols(["h2", "http/1.1"])
    reader, writer = await asyncio.open_connection("127.0.0.1", stack.site.https_port, ssl=context, server_hostname=DOMAIN)
    try:
        ssl_object = writer.get_extra_info("ssl_object")
        assert ssl_object.selected_alpn_protocol() == "h2"
        assert ssl_object.version() in ("TLSv1.2", "TLSv1.3")
        writer.write(HTTP2_PREFACE + EMPTY_SETTINGS_FRAME)
        frame = await reader.readexactly(9)  # the server's first frame: its SETTINGS
        assert frame[3] == SETTINGS_FRAME_TYPE
    finally:
        writer.transport.abort()


async def test_public_pages_are_cached_for_anonymous_visitors_only(stack: Stack, client: aiohttp.ClientSession) -> None:
    url = f"{stack.base_url}/@library"
    statuses = []
    for _ in range(2):
        async with client.get(url, headers={"Accept": HTML}) as response:
            assert response.status == 200 and response.content_type == "text/html"
            assert response.headers["Strict-Transport-Security"].startswith("max-age=")
            statuses.append(response.headers["X-Cache-Status"])
    assert statuses[-1] == "HIT"
    for personal in ({"Cookie": "fedi_staff=abc"}, {"Authorization": "Bearer abc"}, {"Signature": 'keyId="x"'}):
        async with client.get(url, headers={"Accept": HTML, **personal}) as response:
            assert response.status == 200 and response.headers["X-Cache-Status"] == "BYPASS"


async def test_activitypub_clients_never_get_the_cached_page(stack: Stack, client: aiohttp.ClientSession) -> None:
    url = f"{stack.base_url}/users/library"
    for accept, content_type in ((HTML, "text/html"), (HTML, "text/html"), (ACTIVITY_JSON, ACTIVITY_JSON),
                                 (ACTIVITY_JSON, ACTIVITY_JSON), (HTML, "text/html")):
        async with client.get(url, headers={"Accept": accept}) as response:
            assert response.status == 200 and response.content_type == content_type
            if content_type == ACTIVITY_JSON:
                assert (await response.json())["id"] == url
    async with client.get(url, headers={"Accept": ACTIVITY_JSON}) as response:
        assert response.headers["X-Cache-Status"] == "HIT" and response.content_type == ACTIVITY_JSON


async def test_inbox_bodies_over_one_mebibyte_are_refused_by_the_proxy(
    stack: Stack, client: aiohttp.ClientSession, db: asyncpg.Connection
) -> None:
    before = await db.fetchval("SELECT count(*) FROM inbox_items")
    body = io.BytesIO(b'{"type": "Create", "content": "' + b"x" * (1024 * 1024) + b'"}')
    async with client.post(f"{stack.base_url}/inbox", data=body, headers={"Content-Type": ACTIVITY_JSON}) as response:
        assert response.status == 413
        assert response.content_type == "application/json" and "too large" in (await response.json())["error"]
    assert await db.fetchval("SELECT count(*) FROM inbox_items") == before


async def test_media_uploads_may_be_larger_than_inbox_bodies(stack: Stack, client: aiohttp.ClientSession) -> None:
    form = aiohttp.FormData()
    form.add_field("file", io.BytesIO(b"\x89PNG" + b"\0" * (3 * 1024 * 1024)), filename="big.png", content_type="image/png")
    async with client.post(f"{stack.base_url}/api/v2/media", data=form) as response:
        assert response.status == 401  # fedi's answer (no token), not the proxy's 413
        assert "error" in await response.json()


async def test_uploaded_media_are_served_from_the_data_directory(stack: Stack, client: aiohttp.ClientSession) -> None:
    media = stack.site.data_dir / "media"
    media.mkdir(parents=True, exist_ok=True)
    name = secrets.token_hex(16) + ".png"
    (media / name).write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 64)
    (media / f".{name}.partial").write_bytes(b"unfinished")
    async with client.get(f"{stack.base_url}/media/{name}") as response:
        assert response.status == 200 and response.content_type == "image/png"
        assert await response.read() == (media / name).read_bytes()
        assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"
    for other in (f".{name}.partial", "../secret_key", name.replace(".png", ".html")):
        async with client.get(f"{stack.base_url}/media/{other}") as response:
            assert response.status == 404


async def test_health_is_answered_through_the_proxy(stack: Stack, client: aiohttp.ClientSession) -> None:
    async with client.get(f"{stack.base_url}/healthz") as response:
        assert response.status == 200 and (await response.json())["status"] == "ok"


async def test_fedi_sees_the_client_address_not_the_one_it_claims(stack: Stack, client: aiohttp.ClientSession) -> None:
    # /metrics is shown to loopback only (FEDI_METRICS_ALLOW); a forged X-Forwarded-For is replaced by nginx.
    async with client.get(f"{stack.base_url}/metrics") as response:
        assert response.status == 200 and "fedi_deliveries_pending" in await response.text()
    async with client.get(f"{stack.base_url}/metrics", headers={"X-Forwarded-For": "203.0.113.9"}) as response:
        assert response.status == 200
