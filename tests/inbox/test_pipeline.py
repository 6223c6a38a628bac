"""The inbox request pipeline over real HTTP: what is stored, what is refused and why, and that a refusal writes nothing."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import asyncpg
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from actors.queries import LocalActor
from keys.signing import sign_request_rfc9421
from tests.inbox.conftest import Deliver
from tests.inbox.support import FIXTURES, LOCAL_DOMAIN, item_state, post, row_counts, sign
from tests.peers import ACTIVITY_JSON, PeerUser, RemotePeer
from tests.servers import RunningInstance

Fixture = Callable[[str], dict[str, Any]]


@pytest.fixture
async def unchanged(
    instance: RunningInstance, conn: asyncpg.Connection, library: LocalActor, alice: PeerUser, bob: PeerUser
) -> AsyncIterator[None]:
    """Assert that the test's request wrote no row anywhere (the peer's actors are cached beforehand)."""
    for user in (alice, bob):
        await instance.services.resolver.get_actor(user.uri)
    before = await row_counts(conn)
    yield
    assert await row_counts(conn) == before


def refused(status: int, body: Any, expected_status: int, prefix: str) -> None:
    """The answer is ``expected_status`` with an ``{"error": ...}`` starting with ``prefix``."""
    assert status == expected_status, body
    assert isinstance(body, dict) and set(body) == {"error"} and body["error"].startswith(prefix), body


# Accepted requests.


async def test_a_signed_activity_is_stored_for_its_department(
    deliver: Deliver, fixture: Fixture, conn: asyncpg.Connection, library: LocalActor, alice: PeerUser
) -> None:
    follow = fixture("mastodon-follow")
    status, body = await deliver(follow)
    assert (status, body) == (202, None)
    row = await conn.fetchrow("SELECT * FROM inbox_items WHERE activity_id = $1", follow["id"])
    assert row["activity_type"] == "Follow" and row["actor_uri"] == alice.uri
    assert row["recipient_id"] == library.id and row["state"] == "pending" and row["attempts"] == 0
    assert row["payload"] == follow


async def test_the_shared_and_instance_inboxes_store_without_recipient(
    deliver: Deliver, fixture: Fixture, server: str, conn: asyncpg.Connection
) -> None:
    like, announce = fixture("mastodon-like"), fixture("mastodon-announce")
    assert (await deliver(like, url=f"{server}/inbox"))[0] == 202
    assert (await deliver(announce, url=f"{server}/actor/inbox"))[0] == 202
    for activity in (like, announce):
        state = await item_state(conn, activity["id"])
        assert state is not None and state["recipient_id"] is None


async def test_a_repeated_delivery_is_answered_202_and_stored_once(
    deliver: Deliver, fixture: Fixture, conn: asyncpg.Connection
) -> None:
    like = fixture("mastodon-like")
    assert (await deliver(like))[0] == 202
    assert (await deliver(like))[0] == 202
    assert await conn.fetchval("SELECT count(*) FROM inbox_items WHERE activity_id = $1", like["id"]) == 1


@pytest.mark.parametrize("content_type", ["application/ld+json; profile=\"https://www.w3.org/ns/activitystreams\"", "application/json"])
async def test_other_activitypub_content_types_are_accepted(
    http: aiohttp.ClientSession, fixture: Fixture, alice: PeerUser, inbox_url: str, content_type: str
) -> None:
    body = json.dumps(fixture("mastodon-like")).encode()
    status, _ = await post(http, inbox_url, body, sign(alice, inbox_url, body, content_type=content_type))
    assert status == 202


async def test_an_rfc9421_signature_is_accepted_too(
    http: aiohttp.ClientSession, fixture: Fixture, alice: PeerUser, inbox_url: str, conn: asyncpg.Connection
) -> None:
    like = fixture("mastodon-like")
    body = json.dumps(like).encode()
    addressed = urlsplit(inbox_url)._replace(netloc=LOCAL_DOMAIN).geturl()  # as the sender knows our inbox
    headers = sign_request_rfc9421("POST", addressed, {"Content-Type": ACTIVITY_JSON}, body, alice.key_id, alice.private_key)
    status, _ = await post(http, inbox_url, body, {**headers, "Host": LOCAL_DOMAIN})
    assert status == 202 and await item_state(conn, like["id"]) is not None


async def test_an_activity_from_a_failing_host_clears_its_pause(
    deliver: Deliver, fixture: Fixture, conn: asyncpg.Connection, peer: RemotePeer
) -> None:
    await conn.execute(
        """INSERT INTO hosts (host, consecutive_failures, failing_since, unavailable_until)
           VALUES ($1, 9, now() - interval '4 days', now() + interval '1 day')""",
        peer.host,
    )
    assert (await deliver(fixture("mastodon-like")))[0] == 202
    row = await conn.fetchrow("SELECT consecutive_failures, unavailable_until FROM hosts WHERE host = $1", peer.host)
    assert row["consecutive_failures"] == 0 and row["unavailable_until"] is None


async def test_a_delete_of_an_actor_whose_key_we_never_had_is_acknowledged_without_fetching(
    deliver: Deliver, peer: RemotePeer, conn: asyncpg.Connection, rsa_keys: list[rsa.RSAPrivateKey]
) -> None:
    carol = peer.add_user("carol", rsa_keys[2])
    before = await row_counts(conn)
    peer.requests.clear()
    status, body = await deliver({**peer.activity(carol, "Delete", carol.uri), "id": f"{carol.uri}#delete"}, carol)
    assert (status, body) == (202, None)
    assert peer.requests == [] and await row_counts(conn) == before


async def test_an_unknown_department_is_404(deliver: Deliver, fixture: Fixture, server: str, conn: asyncpg.Connection, library: LocalActor) -> None:
    status, body = await deliver(fixture("mastodon-like"), url=f"{server}/users/nobody/inbox")
    refused(status, body, 404, "no department named 'nobody'")
    await conn.execute("UPDATE actors SET deleted_at = now() WHERE id = $1", library.id)
    status, body = await deliver(fixture("mastodon-like"))
    refused(status, body, 404, "no department named 'library'")
    assert await conn.fetchval("SELECT count(*) FROM inbox_items") == 0


# Refused requests: each answers a clear error and writes nothing.


@pytest.mark.usefixtures("unchanged")
async def test_an_unsigned_request_is_401(http: aiohttp.ClientSession, fixture: Fixture, inbox_url: str) -> None:
    body = json.dumps(fixture("mastodon-like")).encode()
    status, answer = await post(http, inbox_url, body, {"Content-Type": ACTIVITY_JSON})
    refused(status, answer, 401, "signature: missing_signature: ")


@pytest.mark.usefixtures("unchanged")
async def test_a_request_signed_with_another_key_is_401(
    http: aiohttp.ClientSession, fixture: Fixture, inbox_url: str, alice: PeerUser, rsa_keys: list[rsa.RSAPrivateKey]
) -> None:
    impostor = PeerUser(alice.username, alice.uri, rsa_keys[3], alice.document)  # alice's key id, another key
    body = json.dumps(fixture("mastodon-like")).encode()
    status, answer = await post(http, inbox_url, body, sign(impostor, inbox_url, body))
    refused(status, answer, 401, "signature: bad_signature: ")


@pytest.mark.usefixtures("unchanged")
async def test_a_replayed_request_with_an_old_date_is_401(http: aiohttp.ClientSession, fixture: Fixture, inbox_url: str, alice: PeerUser) -> None:
    body = json.dumps(fixture("mastodon-like")).encode()
    old = datetime.now(timezone.utc) - timedelta(hours=13)
    status, answer = await post(http, inbox_url, body, sign(alice, inbox_url, body, date=old))
    refused(status, answer, 401, "signature: date_too_old: ")


@pytest.mark.usefixtures("unchanged")
async def test_a_body_not_matching_its_digest_is_401(http: aiohttp.ClientSession, fixture: Fixture, inbox_url: str, alice: PeerUser) -> None:
    like = fixture("mastodon-like")
    body = json.dumps(like).encode()
    signed_for = json.dumps({**like, "object": "https://city.example/users/library"}).encode()
    status, answer = await post(http, inbox_url, body, sign(alice, inbox_url, body, digest_of=signed_for))
    refused(status, answer, 401, "signature: digest_mismatch: ")


@pytest.mark.usefixtures("unchanged")
async def test_an_activity_whose_actor_is_not_the_signer_is_401(deliver: Deliver, fixture: Fixture, bob: PeerUser) -> None:
    like = fixture("mastodon-like")
    status, answer = await deliver({**like, "actor": bob.uri})  # signed by alice
    refused(status, answer, 401, f"origin: the activity's actor {bob.uri} is not the key owner")


@pytest.mark.usefixtures("unchanged")
async def test_an_activity_id_on_a_third_host_is_403(deliver: Deliver, fixture: Fixture) -> None:
    like = fixture("mastodon-like")
    status, answer = await deliver({**like, "id": "https://other.test/likes/1"})
    refused(status, answer, 403, "origin: the activity id https://other.test/likes/1 is not on the actor's host")


@pytest.mark.usefixtures("unchanged")
async def test_an_object_id_on_a_third_host_is_403(deliver: Deliver, peer: RemotePeer, alice: PeerUser) -> None:
    spoofed = json.loads((FIXTURES / "spoofed-object.json").read_text(encoding="utf-8"))
    spoofed = {**spoofed, "actor": alice.uri, "attributedTo": alice.uri}  # its id stays on patch.cx
    status, answer = await deliver(peer.activity(alice, "Create", spoofed))
    refused(status, answer, 403, "origin: the Create's object https://patch.cx/objects/spoof is not on the actor's host")
    status, answer = await deliver(peer.activity(alice, "Delete", "https://patch.cx/objects/spoof"))
    refused(status, answer, 403, "origin: the Delete's object https://patch.cx/objects/spoof is not on the actor's host")


@pytest.mark.usefixtures("unchanged")
async def test_an_object_attributed_to_someone_else_is_403(deliver: Deliver, peer: RemotePeer, alice: PeerUser, bob: PeerUser) -> None:
    note = peer.note(bob, "<p>I am bob</p>")
    status, answer = await deliver(peer.activity(alice, "Create", note))
    refused(status, answer, 403, f"origin: the Create's object has attributedTo {bob.uri}, not {alice.uri}")


@pytest.mark.usefixtures("unchanged")
async def test_an_update_of_someone_elses_note_is_403(deliver: Deliver, peer: RemotePeer, alice: PeerUser, bob: PeerUser) -> None:
    note = peer.note(bob, "<p>edited by alice</p>")
    status, answer = await deliver(peer.activity(alice, "Update", note))
    refused(status, answer, 403, f"origin: the Update's object has attributedTo {bob.uri}, not {alice.uri}")


@pytest.mark.usefixtures("unchanged")
async def test_an_undo_of_someone_elses_follow_is_403(
    deliver: Deliver, peer: RemotePeer, alice: PeerUser, bob: PeerUser, library: LocalActor
) -> None:
    bobs_follow = peer.activity(bob, "Follow", library.uri)
    status, answer = await deliver(peer.activity(alice, "Undo", bobs_follow))
    refused(status, answer, 403, f"origin: the Undo's object has actor {bob.uri}, not {alice.uri}")


@pytest.mark.usefixtures("unchanged")
async def test_a_body_declared_too_large_is_413(http: aiohttp.ClientSession, inbox_url: str, alice: PeerUser) -> None:
    body = b'{"padding": "' + b"x" * (1024 * 1024) + b'"}'
    status, answer = await post(http, inbox_url, body, sign(alice, inbox_url, body))
    refused(status, answer, 413, "size: the body is ")


@pytest.mark.usefixtures("unchanged")
async def test_a_streamed_body_too_large_is_413(http: aiohttp.ClientSession, inbox_url: str) -> None:
    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: chunked transfer
        for _ in range(20):
            yield b"x" * 65536

    async with http.post(inbox_url, data=chunks(), headers={"Content-Type": ACTIVITY_JSON}) as response:
        refused(response.status, await response.json(), 413, "size: the body exceeds 1048576 bytes")


@pytest.mark.usefixtures("unchanged")
@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b'{"id": "x", "type": ', "parse: the body is not valid JSON"),
        (b"\xff\xfe not utf-8", "parse: the body is not valid JSON"),
        (b'["Like"]', "parse: the body is not a JSON object"),
        (b'{"type": "Like", "actor": "https://peer.test/users/alice"}', "parse: the activity has no string 'id'"),
        (b'{"id": "https://peer.test/1", "type": ["Like"], "actor": "https://peer.test/users/alice"}', "parse: the activity has no string 'type'"),
        (b'{"id": "https://peer.test/1", "type": "Like"}', "parse: the activity has no 'actor' id"),
    ],
)
async def test_malformed_activities_are_400(
    http: aiohttp.ClientSession, inbox_url: str, alice: PeerUser, body: bytes, error: str
) -> None:
    status, answer = await post(http, inbox_url, body, sign(alice, inbox_url, body))
    refused(status, answer, 400, error)


@pytest.mark.usefixtures("unchanged")
@pytest.mark.parametrize("depth", [40, 100_000])
async def test_deeply_nested_json_is_400(http: aiohttp.ClientSession, inbox_url: str, alice: PeerUser, fixture: Fixture, depth: int) -> None:
    like = json.dumps(fixture("mastodon-like"))
    body = (like[:-1] + ', "extra": ' + "[" * depth + "]" * depth + "}").encode()
    status, answer = await post(http, inbox_url, body, sign(alice, inbox_url, body))
    refused(status, answer, 400, "parse: the JSON is nested deeper than 24 levels")


@pytest.mark.usefixtures("unchanged")
async def test_a_wrong_content_type_is_415(http: aiohttp.ClientSession, fixture: Fixture, inbox_url: str, alice: PeerUser) -> None:
    body = json.dumps(fixture("mastodon-like")).encode()
    status, answer = await post(http, inbox_url, body, sign(alice, inbox_url, body, content_type="text/plain"))
    refused(status, answer, 415, "content type: text/plain is not application/activity+json")



# The Host a request was signed for.


async def test_a_request_signed_for_another_server_is_401(
    http: aiohttp.ClientSession, fixture: Fixture, inbox_url: str, alice: PeerUser, unchanged: None
) -> None:
    """A signed delivery made for another server, replayed to us within its Date window, is refused."""
    body = json.dumps(fixture("mastodon-follow")).encode()
    status, answer = await post(http, inbox_url, body, sign(alice, inbox_url, body, host="other.example"))
    refused(status, answer, 401, "signature: wrong_host: the request is addressed to other.example, not to this server (city.example)")


async def test_the_host_named_by_a_trusted_proxy_is_the_one_checked(
    http: aiohttp.ClientSession, fixture: Fixture, inbox_url: str, alice: PeerUser, conn: asyncpg.Connection
) -> None:
    """Behind the proxy (loopback is trusted by default) X-Forwarded-Host is the Host the sender signed."""
    follow = fixture("mastodon-follow")
    body = json.dumps(follow).encode()
    headers = sign(alice, inbox_url, body) | {"Host": urlsplit(inbox_url).netloc, "X-Forwarded-Host": LOCAL_DOMAIN}
    assert (await post(http, inbox_url, body, headers))[0] == 202
    assert await item_state(conn, follow["id"]) is not None
    replay = fixture("mastodon-like")
    body = json.dumps(replay).encode()
    headers = sign(alice, inbox_url, body, host="other.example") | {"X-Forwarded-Host": "other.example"}
    status, answer = await post(http, inbox_url, body, headers)
    refused(status, answer, 401, "signature: wrong_host: ")
    assert await item_state(conn, replay["id"]) is None


async def test_the_default_port_may_be_written_in_the_host(
    http: aiohttp.ClientSession, fixture: Fixture, inbox_url: str, alice: PeerUser, conn: asyncpg.Connection
) -> None:
    like = fixture("mastodon-like")
    body = json.dumps(like).encode()
    assert (await post(http, inbox_url, body, sign(alice, inbox_url, body, host=f"{LOCAL_DOMAIN}:80")))[0] == 202
    assert await item_state(conn, like["id"]) is not None


# Storing many at once.


async def test_concurrent_deliveries_are_each_stored_once_before_their_202(
    deliver: Deliver, peer: RemotePeer, alice: PeerUser, bob: PeerUser, library: LocalActor, conn: asyncpg.Connection
) -> None:
    """Many requests at once share transactions; every 202 means stored, and a repeat among them is kept once."""
    likes = [peer.activity(alice if n % 2 else bob, "Like", f"{library.uri}/statuses/{n}") for n in range(40)]
    sent = likes + likes[:10]  # ten of them twice, at the same time
    answers = await asyncio.gather(*(deliver(like, alice if n % 2 else bob) for n, like in enumerate(sent)))
    assert answers == [(202, None)] * len(sent)
    rows = await conn.fetch("SELECT activity_id, actor_uri, recipient_id, payload FROM inbox_items ORDER BY id")
    assert sorted(r["activity_id"] for r in rows) == sorted(like["id"] for like in likes)
    assert all(r["recipient_id"] == library.id and r["payload"] == {"id": r["activity_id"], **r["payload"]} for r in rows)
    assert {r["activity_id"]: r["actor_uri"] for r in rows} == {like["id"]: like["actor"] for like in likes}


async def test_an_activity_the_database_cannot_hold_is_400_and_the_others_are_stored(
    deliver: Deliver, peer: RemotePeer, alice: PeerUser, library: LocalActor, conn: asyncpg.Connection
) -> None:
    """A NUL character (which PostgreSQL's jsonb refuses) fails its own request only, even within one batch."""
    good = [peer.activity(alice, "Like", f"{library.uri}/statuses/{n}") for n in range(5)]
    bad = peer.activity(alice, "Like", f"{library.uri}/statuses/9", content="nul \u0000 here")
    answers = await asyncio.gather(*(deliver(activity) for activity in [*good, bad]))
    assert answers[:5] == [(202, None)] * 5
    refused(*answers[5], 400, "store: the activity cannot be stored: ")
    stored = {r["activity_id"] for r in await conn.fetch("SELECT activity_id FROM inbox_items")}
    assert stored == {like["id"] for like in good}


async def test_while_the_queue_cannot_be_written_every_request_gets_503_and_a_retry_later_succeeds(
    deliver: Deliver, peer: RemotePeer, alice: PeerUser, library: LocalActor, conn: asyncpg.Connection
) -> None:
    likes = [peer.activity(alice, "Like", f"{library.uri}/statuses/{n}") for n in range(6)]
    await conn.execute("ALTER TABLE inbox_items RENAME TO inbox_items_away")
    try:
        answers = await asyncio.gather(*(deliver(like) for like in likes))
    finally:
        await conn.execute("ALTER TABLE inbox_items_away RENAME TO inbox_items")
    for status, answer in answers:
        refused(status, answer, 503, "store: the activity cannot be stored now; retry later")
    assert await conn.fetchval("SELECT count(*) FROM inbox_items") == 0
    assert [await deliver(like) for like in likes] == [(202, None)] * 6
    assert await conn.fetchval("SELECT count(*) FROM inbox_items") == 6
