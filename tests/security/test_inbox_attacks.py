"""Attacks on the inboxes, each a real signed (or forged) HTTP request to a running fedi server.

Every case checks the answer and then runs the inbox and delivery queues, proving that the refused
request left no row anywhere and made fedi send nothing. Forged activities start from captured
payloads of real servers (``/work/shared/fixtures/activitypub``) rewritten onto the test's hosts.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest
import trustme
from cryptography.hazmat.primitives.asymmetric import rsa

from actors.queries import LocalActor
from tests.factories import citizen
from tests.inbox.conftest import Deliver
from tests.inbox.support import FIXTURES, local_post, post, sign
from tests.inbox.test_pipeline import refused
from tests.peers import ACTIVITY_JSON, PeerUser, RemotePeer, running_peer
from tests.security.support import Aftermath, sign_covering, sign_hmac_with_public_key
from tests.servers import RunningInstance

Fixture = Callable[[str], dict[str, Any]]


@pytest.fixture
async def other(test_ca: trustme.CA, tmp_path: Path, rsa_keys: list[rsa.RSAPrivateKey]) -> AsyncIterator[RemotePeer]:
    """A third server, https://other.test:<port>, with the user ``mallory``."""
    async with running_peer("other.test", test_ca, tmp_path) as remote:
        remote.add_user("mallory", rsa_keys[3])
        yield remote


async def liked_post(conn: asyncpg.Connection, library: LocalActor, like: dict[str, Any]) -> None:
    """Store the department post a captured Like points at."""
    await local_post(conn, library, like["object"])


# Signatures.


async def test_unsigned_post(http: aiohttp.ClientSession, fixture: Fixture, inbox_url: str, aftermath: Aftermath) -> None:
    body = json.dumps(fixture("mastodon-follow")).encode()
    status, answer = await post(http, inbox_url, body, {"Content-Type": ACTIVITY_JSON})
    refused(status, answer, 401, "signature: missing_signature: ")
    await aftermath.assert_nothing_changed()


async def test_signature_by_another_actors_key(
    http: aiohttp.ClientSession, fixture: Fixture, inbox_url: str, bob: PeerUser, aftermath: Aftermath
) -> None:
    """Bob signs a Follow that claims to be Alice's."""
    body = json.dumps(fixture("mastodon-follow")).encode()
    status, answer = await post(http, inbox_url, body, sign(bob, inbox_url, body))
    refused(status, answer, 401, "origin: the activity's actor ")
    await aftermath.assert_nothing_changed()


async def test_signature_by_a_forged_key_under_the_actors_key_id(
    http: aiohttp.ClientSession, fixture: Fixture, inbox_url: str, alice: PeerUser, rsa_keys: list[rsa.RSAPrivateKey],
    aftermath: Aftermath,
) -> None:
    impostor = PeerUser(alice.username, alice.uri, rsa_keys[2], alice.document)
    body = json.dumps(fixture("mastodon-follow")).encode()
    status, answer = await post(http, inbox_url, body, sign(impostor, inbox_url, body))
    refused(status, answer, 401, "signature: bad_signature: ")
    await aftermath.assert_nothing_changed()


async def test_key_id_on_another_host_than_the_actor(
    http: aiohttp.ClientSession, fixture: Fixture, inbox_url: str, alice: PeerUser, other: RemotePeer,
    instance: RunningInstance, aftermath: Aftermath,
) -> None:
    """Mallory's real key signs Alice's Follow; then a key document on Mallory's host claims Alice as owner."""
    mallory = other.users["mallory"]
    await instance.services.resolver.get_actor(mallory.uri)  # a known signer: only the attack is measured
    aftermath.before = await aftermath.count_rows()
    body = json.dumps(fixture("mastodon-follow")).encode()
    status, answer = await post(http, inbox_url, body, sign(mallory, inbox_url, body))
    refused(status, answer, 401, f"origin: the activity's actor {alice.uri} is not the key owner {mallory.uri}")

    claimed = PeerUser("alice", f"{other.base_url}/keys/alice", mallory.private_key, {})
    other.objects["/keys/alice"] = {
        "id": claimed.key_id, "type": "Key", "owner": alice.uri,
        "publicKeyPem": mallory.document["publicKey"]["publicKeyPem"],
    }
    status, answer = await post(http, inbox_url, body, sign(claimed, inbox_url, body))
    refused(status, answer, 401, f"signature: unknown_key: no public key found for {claimed.key_id}")
    await aftermath.assert_nothing_changed()


async def test_replayed_request_with_an_old_date(
    http: aiohttp.ClientSession, fixture: Fixture, inbox_url: str, alice: PeerUser, aftermath: Aftermath
) -> None:
    """A request captured thirteen hours ago is replayed with its own (old) Date."""
    body = json.dumps(fixture("mastodon-follow")).encode()
    captured = sign(alice, inbox_url, body, date=datetime.now(timezone.utc) - timedelta(hours=13))
    status, answer = await post(http, inbox_url, body, captured)
    refused(status, answer, 401, "signature: date_too_old: ")
    await aftermath.assert_nothing_changed()


async def test_replay_of_an_accepted_request_is_stored_once(
    http: aiohttp.ClientSession, fixture: Fixture, inbox_url: str, alice: PeerUser, conn: asyncpg.Connection,
    library: LocalActor, aftermath: Aftermath,
) -> None:
    like = fixture("mastodon-like")
    await liked_post(conn, library, like)
    body = json.dumps(like).encode()
    captured = sign(alice, inbox_url, body)
    for _ in range(3):
        assert (await post(http, inbox_url, body, captured))[0] == 202
    assert await aftermath.run_queues() == 1
    assert await conn.fetchval("SELECT count(*) FROM interactions WHERE uri = $1", like["id"]) == 1

    aftermath.before = await aftermath.count_rows()
    assert (await post(http, inbox_url, body, captured))[0] == 202  # the same bytes once more, after processing
    await aftermath.assert_nothing_changed()


async def test_digest_mismatch(
    http: aiohttp.ClientSession, fixture: Fixture, inbox_url: str, alice: PeerUser, library: LocalActor, aftermath: Aftermath
) -> None:
    """A signed Follow's body is swapped for an Undo of it; the signature still covers the old digest."""
    follow = fixture("mastodon-follow")
    signed = json.dumps(follow).encode()
    swapped = json.dumps({**follow, "type": "Undo", "object": follow}).encode()
    status, answer = await post(http, inbox_url, swapped, sign(alice, inbox_url, swapped, digest_of=signed))
    refused(status, answer, 401, "signature: digest_mismatch: ")
    await aftermath.assert_nothing_changed()


@pytest.mark.parametrize(
    ("covered", "missing"),
    [
        (["(request-target)", "host", "date", "content-type"], "digest"),
        (["host", "date", "digest", "content-type"], "(request-target)"),
        (["(request-target)", "digest"], "host, date"),
    ],
)
async def test_signature_headers_omitting_digest_or_request_target(
    http: aiohttp.ClientSession, fixture: Fixture, inbox_url: str, alice: PeerUser, aftermath: Aftermath,
    covered: list[str], missing: str,
) -> None:
    body = json.dumps(fixture("mastodon-follow")).encode()
    status, answer = await post(http, inbox_url, body, sign_covering(alice, inbox_url, body, covered))
    refused(status, answer, 401, f"signature: unsigned_required_header: headers= must cover {missing}")
    await aftermath.assert_nothing_changed()


@pytest.mark.parametrize(("algorithm", "error"), [
    ("hmac-sha256", "signature: unsupported_algorithm: algorithm 'hmac-sha256' is not accepted"),
    ("hs2019", "signature: bad_signature: "),
    ("rsa-sha256", "signature: bad_signature: "),
])
async def test_algorithm_confusion_hmac_keyed_with_the_public_key(
    http: aiohttp.ClientSession, fixture: Fixture, inbox_url: str, alice: PeerUser, aftermath: Aftermath,
    algorithm: str, error: str,
) -> None:
    body = json.dumps(fixture("mastodon-follow")).encode()
    status, answer = await post(http, inbox_url, body, sign_hmac_with_public_key(alice, inbox_url, body, algorithm))
    refused(status, answer, 401, error)
    await aftermath.assert_nothing_changed()


# Origin: ids and objects must belong to the signer.


async def test_activity_id_on_a_third_host(deliver: Deliver, fixture: Fixture, other: RemotePeer, aftermath: Aftermath) -> None:
    follow = {**fixture("mastodon-follow"), "id": f"{other.base_url}/follows/1"}
    status, answer = await deliver(follow)
    refused(status, answer, 403, f"origin: the activity id {follow['id']} is not on the actor's host")
    await aftermath.assert_nothing_changed()


async def test_object_id_on_a_third_host(deliver: Deliver, peer: RemotePeer, alice: PeerUser, aftermath: Aftermath) -> None:
    spoofed = json.loads((FIXTURES / "spoofed-object.json").read_text(encoding="utf-8"))
    spoofed = {**spoofed, "actor": alice.uri, "attributedTo": alice.uri}  # its id stays on patch.cx
    status, answer = await deliver(peer.activity(alice, "Create", spoofed))
    refused(status, answer, 403, "origin: the Create's object https://patch.cx/objects/spoof is not on the actor's host")
    await aftermath.assert_nothing_changed()


async def test_object_attributed_to_someone_else(
    deliver: Deliver, fixture: Fixture, alice: PeerUser, bob: PeerUser, aftermath: Aftermath
) -> None:
    create = fixture("mastodon-create-note")
    create["object"] = {**create["object"], "attributedTo": bob.uri}
    status, answer = await deliver(create)
    refused(status, answer, 403, f"origin: the Create's object has attributedTo {bob.uri}, not {alice.uri}")
    await aftermath.assert_nothing_changed()


async def test_delete_of_another_hosts_actor(
    deliver: Deliver, fixture: Fixture, conn: asyncpg.Connection, other: RemotePeer, aftermath: Aftermath
) -> None:
    mallory = await citizen(conn, "mallory", other.host)
    aftermath.before = await aftermath.count_rows()
    delete = {**fixture("mastodon-delete-actor"), "object": mallory.uri}
    status, answer = await deliver(delete)
    refused(status, answer, 403, f"origin: the Delete's object {mallory.uri} is not on the actor's host")
    await aftermath.assert_nothing_changed()
    assert await conn.fetchval("SELECT deleted_at FROM actors WHERE uri = $1", mallory.uri) is None


async def test_update_of_someone_elses_note(
    deliver: Deliver, peer: RemotePeer, alice: PeerUser, bob: PeerUser, library: LocalActor, conn: asyncpg.Connection,
    aftermath: Aftermath,
) -> None:
    announcement = await local_post(conn, library)
    note = peer.note(bob, "<p>Is the library open on Sunday?</p>", inReplyTo=announcement["uri"], cc=[library.uri])
    assert (await deliver(peer.activity(bob, "Create", note), bob))[0] == 202
    assert await aftermath.run_queues() >= 1
    aftermath.before = await aftermath.count_rows()

    edited = {**note, "content": "<p>The library is a scam</p>", "updated": "2026-11-24T11:00:00Z"}
    status, answer = await deliver(peer.activity(alice, "Update", edited))
    refused(status, answer, 403, f"origin: the Update's object has attributedTo {bob.uri}, not {alice.uri}")
    # Alice lies about the author: the inbox accepts (same host), the handler edits nothing of Bob's.
    status, _ = await deliver(peer.activity(alice, "Update", {**edited, "attributedTo": alice.uri}))
    assert status == 202
    await aftermath.run_queues()
    assert await conn.fetchval("SELECT content_html FROM posts WHERE uri = $1", note["id"]) == note["content"]
    counts = await aftermath.count_rows()
    assert counts == {**aftermath.before, "inbox_items": aftermath.before["inbox_items"] + 1}


async def test_undo_of_someone_elses_follow(
    deliver: Deliver, fixture: Fixture, peer: RemotePeer, alice: PeerUser, bob: PeerUser, library: LocalActor,
    conn: asyncpg.Connection, aftermath: Aftermath,
) -> None:
    bobs_follow = {**fixture("mastodon-follow"), "id": peer.new_id(bob, "follows"), "actor": bob.uri}
    assert (await deliver(bobs_follow, bob))[0] == 202
    await aftermath.run_queues()
    follows = "SELECT count(*) FROM follows f JOIN actors a ON a.id = f.follower_id WHERE a.uri = $1 AND f.followee_id = $2"
    assert await conn.fetchval(follows, bob.uri, library.id) == 1
    aftermath.before = await aftermath.count_rows()

    undo = {**fixture("mastodon-undo-follow"), "object": bobs_follow}
    status, answer = await deliver(undo)
    refused(status, answer, 403, f"origin: the Undo's object has actor {bob.uri}, not {alice.uri}")
    await aftermath.assert_nothing_changed()
    # By id only, the inbox cannot tell whose Follow it is: the handler must.
    status, _ = await deliver({**undo, "id": peer.new_id(alice, "undos"), "object": bobs_follow["id"]})
    assert status == 202
    await aftermath.run_queues()
    assert await conn.fetchval(follows, bob.uri, library.id) == 1


# Sizes and shapes.


async def test_oversized_body_by_content_length(
    http: aiohttp.ClientSession, fixture: Fixture, inbox_url: str, alice: PeerUser, aftermath: Aftermath
) -> None:
    body = json.dumps({**fixture("mastodon-follow"), "padding": "x" * (1024 * 1024)}).encode()
    status, answer = await post(http, inbox_url, body, sign(alice, inbox_url, body))
    refused(status, answer, 413, f"size: the body is {len(body)} bytes; at most 1048576 are accepted")
    await aftermath.assert_nothing_changed()


async def test_oversized_body_chunked(
    http: aiohttp.ClientSession, fixture: Fixture, inbox_url: str, alice: PeerUser, aftermath: Aftermath
) -> None:
    body = json.dumps({**fixture("mastodon-follow"), "padding": "x" * (1024 * 1024)}).encode()
    headers = sign(alice, inbox_url, body)

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: chunked transfer encoding
        for start in range(0, len(body), 65536):
            yield body[start:start + 65536]

    async with http.post(inbox_url, data=chunks(), headers=headers) as response:
        assert response.headers.get("Content-Length") != str(len(body))
        refused(response.status, await response.json(), 413, "size: the body exceeds 1048576 bytes")
    await aftermath.assert_nothing_changed()


@pytest.mark.parametrize("depth", [25, 10_000, 300_000])
async def test_deeply_nested_json(
    http: aiohttp.ClientSession, fixture: Fixture, inbox_url: str, alice: PeerUser, aftermath: Aftermath, depth: int
) -> None:
    text = json.dumps(fixture("mastodon-follow"))
    body = (text[:-1] + ', "tag": ' + '{"a":' * depth + "1" + "}" * depth + "}").encode()
    if len(body) > 1024 * 1024:
        body = (text[:-1] + ', "tag": ' + "[" * (depth // 2) + "]" * (depth // 2) + "}").encode()
    status, answer = await post(http, inbox_url, body, sign(alice, inbox_url, body))
    refused(status, answer, 400, "parse: the JSON is nested deeper than 24 levels")
    await aftermath.assert_nothing_changed()


@pytest.mark.parametrize(
    ("context", "status", "error"),
    [
        ("deep", 400, "parse: the JSON is nested deeper than 24 levels"),
        ("huge", 413, "size: the body is "),
    ],
)
async def test_json_bomb_in_context_is_refused(
    http: aiohttp.ClientSession, fixture: Fixture, inbox_url: str, alice: PeerUser, aftermath: Aftermath,
    context: str, status: int, error: str,
) -> None:
    follow = fixture("mastodon-follow")
    bomb: Any = {"deep": ["https://www.w3.org/ns/activitystreams"], "huge": [{f"t{i}": f"as:t{i}" * 40 for i in range(6000)}]}[context]
    if context == "deep":
        for _ in range(30):
            bomb = [{"@context": bomb}]
    body = json.dumps({**follow, "@context": bomb}).encode()
    answer_status, answer = await post(http, inbox_url, body, sign(alice, inbox_url, body))
    refused(answer_status, answer, status, error)
    await aftermath.assert_nothing_changed()


async def test_json_bomb_in_context_is_never_expanded(
    http: aiohttp.ClientSession, fixture: Fixture, inbox_url: str, alice: PeerUser, peer: RemotePeer,
    conn: asyncpg.Connection, library: LocalActor, aftermath: Aftermath,
) -> None:
    """Thousands of remote contexts, each naming the others: fedi reads the activity as plain JSON and fetches none."""
    like = fixture("mastodon-like")
    await liked_post(conn, library, like)
    contexts = [f"{peer.base_url}/contexts/{n}" for n in range(5000)]
    for n, url in enumerate(contexts[:50]):
        peer.objects[f"/contexts/{n}"] = {"id": url, "@context": contexts}
    like["@context"] = [*contexts, "http://169.254.169.254/latest/meta-data/", {"@vocab": contexts[0]}]
    body = json.dumps(like).encode()
    peer.requests.clear()
    status, _ = await post(http, inbox_url, body, sign(alice, inbox_url, body))
    assert status == 202
    assert await aftermath.run_queues() == 1
    assert await conn.fetchval("SELECT count(*) FROM interactions WHERE uri = $1", like["id"]) == 1
    assert [path for _, path, _ in peer.requests if path.startswith("/contexts/")] == []
