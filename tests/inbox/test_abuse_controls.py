"""Abuse controls around the inbox and delivery: instance blocks of domains and actors, and the per-host rate limit.

Blocked senders are refused with 403 before any key is fetched or row written; what they queued
before the block is dropped unapplied; nothing goes out to them and nothing is fetched from them.
A host sending faster than ``FEDI_INBOX_RATE_LIMIT`` allows is answered 429 with ``Retry-After``; so is
an address whose requests keep being refused, and made-up key ids fetch little from their host.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from pathlib import Path

import aiohttp
import asyncpg
import pytest
import trustme
from cryptography.hazmat.primitives.asymmetric import rsa

from actors.blocks import (
    Blocked, block_actor, block_domain, blocked_among, normalize_domain, unblock_domain,
)
from actors.errors import Conflict, ValidationError
from actors.follows import record_follow
from actors.queries import LocalActor
from actors.remote import ActorResolver, FetchAllowance
from fedi.errors import SettingsError
from fedi.settings import Settings, load_settings
from inbox.rate_limits import HostRateLimiter
from outbox.fanout import enqueue_activity
from outbox.posts import publish_post
from tests.conftest import TEST_SECRET
from tests.factories import citizen
from tests.inbox.conftest import Deliver
from tests.inbox.support import LOCAL_DOMAIN, item_state, post, row_counts, sign
from tests.outbox.sinks import note_activity
from tests.peers import PeerUser, RemotePeer, running_peer
from tests.servers import RunningInstance, running_server, trusting_http_client_factory

Step = Callable[[], Awaitable[int]]


def fetches(peer: RemotePeer) -> list[str]:
    """The paths the peer was asked for with GET (key, actor, object and WebFinger fetches)."""
    return [path for method, path, _ in peer.requests if method == "GET"]


def follow_of(peer: RemotePeer, user: PeerUser, department: LocalActor) -> dict[str, object]:
    return peer.activity(user, "Follow", department.uri)


# Domain names and matching.


async def test_a_domain_block_covers_its_subdomains_on_any_port(conn: asyncpg.Connection) -> None:
    await block_domain(conn, "Spam.Example.")
    assert await blocked_among(conn, ["https://spam.example/users/a"]) == "https://spam.example/users/a"
    assert await blocked_among(conn, ["https://ok.test/x", "https://social.spam.example:8443/users/b"]) == (
        "https://social.spam.example:8443/users/b"
    )
    assert await blocked_among(conn, ["https://notspam.example/users/a", "https://spam.example.org/users/a"]) is None
    with pytest.raises(Conflict, match="spam.example is blocked already"):
        await block_domain(conn, "https://SPAM.example/about")
    await unblock_domain(conn, "*.spam.example")
    assert await blocked_among(conn, ["https://spam.example/users/a"]) is None


@pytest.mark.parametrize("bad", ["", "no spaces.example", "-dash.example", "a..example", "10.0.0", "x" * 64 + ".example"])
def test_a_malformed_domain_is_refused(bad: str) -> None:
    with pytest.raises(ValidationError, match="is not a domain name"):
        normalize_domain(bad)


async def test_our_own_domain_and_actors_cannot_be_blocked(conn: asyncpg.Connection, settings: Settings) -> None:
    with pytest.raises(ValidationError, match="own domain"):
        await block_domain(conn, "example", local_domain=settings.domain)
    with pytest.raises(ValidationError, match="only remote actors"):
        await block_actor(conn, f"{settings.base_url}/users/library", settings.domain)
    assert await conn.fetchval("SELECT count(*) FROM blocked_domains") == 0


# Inbound.


async def test_a_blocked_domain_is_refused_before_any_fetch_or_write(
    conn: asyncpg.Connection, peer: RemotePeer, alice: PeerUser, library: LocalActor, deliver: Deliver
) -> None:
    await block_domain(conn, peer.name)
    before = await row_counts(conn)
    status, body = await deliver(follow_of(peer, alice, library))
    assert status == 403
    assert body == {"error": f"blocked: {alice.uri} is blocked by this instance"}
    assert await row_counts(conn) == before
    assert fetches(peer) == []  # alice's key was never fetched


async def test_a_blocked_actor_is_refused_and_its_neighbours_are_not(
    conn: asyncpg.Connection, settings: Settings, peer: RemotePeer, alice: PeerUser, bob: PeerUser,
    library: LocalActor, deliver: Deliver,
) -> None:
    await block_actor(conn, alice.uri, settings.domain, "spam")
    status, body = await deliver(follow_of(peer, alice, library))
    assert status == 403 and "blocked" in body["error"]
    assert fetches(peer) == []
    assert await deliver(follow_of(peer, bob, library), bob) == (202, None)


async def test_a_blocked_key_or_activity_host_is_refused(
    conn: asyncpg.Connection, settings: Settings, http: aiohttp.ClientSession, peer: RemotePeer, alice: PeerUser,
    bob: PeerUser, library: LocalActor, inbox_url: str,
) -> None:
    await block_actor(conn, alice.uri, settings.domain)
    # bob's activity signed with alice's key: refused for the key, not after fetching it
    body = json.dumps(follow_of(peer, bob, library)).encode()
    status, answer = await post(http, inbox_url, body, peer.signed_headers(alice, inbox_url, body))
    assert (status, answer) == (403, {"error": f"blocked: {alice.uri} is blocked by this instance"})
    # bob's activity whose id lives on a blocked host
    await block_domain(conn, "spam.example")
    activity = {**follow_of(peer, bob, library), "id": "https://spam.example/activities/1"}
    status, answer = await peer.deliver(http, bob, inbox_url, activity)
    assert (status, answer) == (403, {"error": "blocked: https://spam.example/activities/1 is blocked by this instance"})
    assert fetches(peer) == []
    assert await conn.fetchval("SELECT count(*) FROM inbox_items") == 0


async def test_queued_activities_of_a_newly_blocked_actor_are_dropped(
    conn: asyncpg.Connection, settings: Settings, peer: RemotePeer, alice: PeerUser, library: LocalActor,
    deliver: Deliver, process: Step,
) -> None:
    follow = follow_of(peer, alice, library)
    assert await deliver(follow) == (202, None)
    await block_actor(conn, alice.uri, settings.domain)
    assert await process() == 1
    assert (await item_state(conn, str(follow["id"])) or {})["state"] == "done"
    assert await conn.fetchval("SELECT count(*) FROM follows") == 0
    assert await conn.fetchval("SELECT count(*) FROM outbox_activities") == 0  # no Accept was sent


# Outbound.


async def test_blocking_removes_follows_both_ways(
    conn: asyncpg.Connection, library: LocalActor, settings: Settings
) -> None:
    erin = await citizen(conn, "erin", "social.spam.example")
    frank = await citizen(conn, "frank", "fine.example")
    await record_follow(conn, erin, library, "https://social.spam.example/follows/1")
    await record_follow(conn, library, erin, f"{library.uri}#follows/1")
    await record_follow(conn, frank, library, "https://fine.example/follows/1")
    _, removed = await block_domain(conn, "spam.example")
    assert removed == 2
    followers = await conn.fetch("SELECT follower_id FROM follows")
    assert [r["follower_id"] for r in followers] == [frank.id]
    await record_follow(conn, library, frank, f"{library.uri}#follows/2")
    assert (await block_actor(conn, frank.uri, settings.domain))[1] == 2
    assert await conn.fetchval("SELECT count(*) FROM follows") == 0


async def test_nothing_new_is_delivered_to_blocked_domains_or_actors(
    conn: asyncpg.Connection, settings: Settings, resolver: ActorResolver, library: LocalActor
) -> None:
    blocked_host = await citizen(conn, "erin", "spam.example")
    blocked_one = await citizen(conn, "frank", "fine.example", shared_inbox=False)
    kept = await citizen(conn, "gina", "fine.example")
    await block_domain(conn, "spam.example")
    await block_actor(conn, blocked_one.uri, settings.domain)
    for follower in (blocked_host, blocked_one, kept):  # follows made before the blocks would have been removed
        await record_follow(conn, follower, library, f"{follower.uri}/follows/1")
    await publish_post(conn, resolver, settings, library, "Opening hours change. @erin@spam.example @frank@fine.example")
    inboxes = [r["inbox_url"] for r in await conn.fetch("SELECT inbox_url FROM deliveries")]
    assert inboxes == ["https://fine.example/inbox"]
    mentioned = await conn.fetch("SELECT actor_id FROM post_mentions")
    assert mentioned == []  # blocked accounts do not resolve as mentions
    async with conn.transaction():  # even when named directly, their inboxes get nothing
        added = await enqueue_activity(
            conn, actor_id=library.id, activity=note_activity(library.uri, 2),
            inboxes=[blocked_host.inbox_url or "", blocked_one.inbox_url or ""],
        )
    assert added == 0


async def test_pending_deliveries_are_skipped_once_the_domain_is_blocked(
    conn: asyncpg.Connection, settings: Settings, resolver: ActorResolver, library: LocalActor, peer: RemotePeer,
    alice: PeerUser, send_deliveries: Step,
) -> None:
    follower = await resolver.get_actor(alice.uri)
    await record_follow(conn, follower, library, f"{alice.uri}/follows/1")
    await publish_post(conn, resolver, settings, library, "The reading room is open.")
    assert await conn.fetchval("SELECT state FROM deliveries") == "pending"
    await block_domain(conn, peer.name)
    await send_deliveries()
    row = await conn.fetchrow("SELECT state, last_error FROM deliveries")
    assert row["state"] == "skipped" and "blocks" in row["last_error"]
    assert peer.received == []


async def test_the_resolver_never_fetches_from_a_blocked_domain(
    conn: asyncpg.Connection, resolver: ActorResolver, peer: RemotePeer, alice: PeerUser
) -> None:
    await block_domain(conn, peer.name)
    with pytest.raises(Blocked, match="blocked by this instance"):
        await resolver.get_actor(alice.uri)
    with pytest.raises(Blocked):
        await resolver.resolve_handle(f"@alice@{peer.host}")
    with pytest.raises(Blocked):
        await resolver.fetch_document(f"{alice.uri}/statuses/1")
    assert fetches(peer) == []


async def test_a_known_blocked_account_does_not_resolve(
    conn: asyncpg.Connection, settings: Settings, resolver: ActorResolver
) -> None:
    erin = await citizen(conn, "erin", "fine.example")
    assert (await resolver.resolve_handle("erin@fine.example")).uri == erin.uri
    await block_actor(conn, erin.uri, settings.domain)
    with pytest.raises(Blocked, match="erin@fine.example is blocked"):
        await resolver.resolve_handle("erin@fine.example")


# Rate limits.


def test_a_bucket_allows_a_burst_then_the_refill_rate() -> None:
    now = [1000.0]
    limiter = HostRateLimiter(3, 60, clock=lambda: now[0])
    assert [limiter.take("peer.test") for _ in range(3)] == [None, None, None]
    assert limiter.take("peer.test") == 20  # one token comes back every 20 s
    assert limiter.take("other.test") is None  # hosts do not share buckets
    now[0] += 19.5
    assert limiter.take("peer.test") == 1
    now[0] += 0.5
    assert limiter.take("peer.test") is None


def test_the_limiter_forgets_idle_hosts_and_keeps_a_bounded_number() -> None:
    now = [0.0]
    limiter = HostRateLimiter(2, 10, max_hosts=3, clock=lambda: now[0])
    for host in ("a", "b", "c", "d"):
        limiter.take(host)
    assert len(limiter) == 3  # the least recently seen host went first
    now[0] += 10  # every bucket is full again: nothing to remember
    limiter.take("e")
    assert len(limiter) == 1


def test_the_rate_limit_setting() -> None:
    base = {"domain": "city.example", "secret_key": TEST_SECRET}
    assert load_settings(environ={}, **base).inbox_rate_limit == (1200, 60)
    assert load_settings(environ={"FEDI_INBOX_RATE_LIMIT": "20/10s"}, **base).inbox_rate_limit == (20, 10)
    assert load_settings(environ={"FEDI_INBOX_RATE_LIMIT": "off"}, **base).inbox_rate_limit is None
    for bad in ("fast", "10", "0/60", "10/0", "-1/60"):
        with pytest.raises(SettingsError, match="FEDI_INBOX_RATE_LIMIT"):
            load_settings(environ={"FEDI_INBOX_RATE_LIMIT": bad}, **base)


@pytest.fixture
async def limited(settings: Settings, test_ca: trustme.CA) -> AsyncIterator[RunningInstance]:
    """A second server on the test's database that takes 3 activities an hour from each host."""
    strict = replace(settings, inbox_rate_limit=(3, 3600))
    async with running_server(strict, http_client=trusting_http_client_factory(test_ca)) as running:
        yield running


@pytest.fixture
async def other_peer(test_ca: trustme.CA, tmp_path: Path, rsa_keys: list[rsa.RSAPrivateKey]) -> AsyncIterator[RemotePeer]:
    """Another Mastodon-like server, at other.test."""
    async with running_peer("other.test", test_ca, tmp_path) as remote:
        remote.add_user("carol", rsa_keys[2])
        yield remote


async def test_a_host_over_its_rate_limit_gets_429_and_nothing_is_stored(
    conn: asyncpg.Connection, http: aiohttp.ClientSession, limited: RunningInstance, library: LocalActor,
    peer: RemotePeer, alice: PeerUser, bob: PeerUser, other_peer: RemotePeer,
) -> None:
    url = f"{limited.base_url}/users/library/inbox"
    for _ in range(3):
        like = peer.activity(alice, "Like", f"{library.uri}/statuses/1")
        assert await peer.deliver(http, alice, url, like, host=LOCAL_DOMAIN) == (202, None)
    await limited.services.resolver.get_actor(bob.uri)  # the signature is checked before the host is charged
    before = await row_counts(conn)
    body = json.dumps(peer.activity(bob, "Follow", library.uri)).encode()  # same host, another user
    async with http.post(url, data=body, headers=peer.signed_headers(bob, url, body, LOCAL_DOMAIN)) as response:
        assert response.status == 429
        wait = int(response.headers["Retry-After"])
        answer = await response.json()
    assert 0 < wait <= 1200  # one activity comes back every 20 minutes
    assert answer == {"error": f"rate limit: too many activities from {peer.host}; retry in {wait} s"}
    assert await row_counts(conn) == before
    carol = other_peer.users["carol"]
    follow = other_peer.activity(carol, "Follow", library.uri)
    assert await other_peer.deliver(http, carol, url, follow, host=LOCAL_DOMAIN) == (202, None)


async def test_forged_requests_spend_their_senders_allowance_not_the_named_hosts(
    conn: asyncpg.Connection, http: aiohttp.ClientSession, limited: RunningInstance, library: LocalActor,
    peer: RemotePeer, alice: PeerUser, rsa_keys: list[rsa.RSAPrivateKey],
) -> None:
    """Requests naming alice's key but signed by someone else count against the address they come from."""
    url = f"{limited.base_url}/users/library/inbox"
    impostor = PeerUser(alice.username, alice.uri, rsa_keys[2], alice.document)
    forger = {"X-Forwarded-For": "203.0.113.7"}  # loopback is a trusted proxy by default
    for n in range(3):
        body = json.dumps(peer.activity(alice, "Like", f"{library.uri}/statuses/{n}")).encode()
        status, answer = await post(http, url, body, sign(impostor, url, body) | forger)
        assert status == 401 and answer["error"].startswith("signature: bad_signature: ")
    body = json.dumps(peer.activity(alice, "Like", f"{library.uri}/statuses/9")).encode()
    async with http.post(url, data=body, headers=sign(impostor, url, body) | forger) as response:
        assert response.status == 429
        wait = int(response.headers["Retry-After"])
        assert await response.json() == {"error": f"rate limit: too many refused requests from 203.0.113.7; retry in {wait} s"}
    before = await row_counts(conn)
    honest = {"X-Forwarded-For": "198.51.100.2"}
    for n in range(3):  # alice's host still has its whole allowance
        like = peer.activity(alice, "Like", f"{library.uri}/statuses/{n}")
        body = json.dumps(like).encode()
        assert (await post(http, url, body, sign(alice, url, body) | honest))[0] == 202
    assert (await row_counts(conn))["inbox_items"] == before["inbox_items"] + 3
    body = json.dumps(peer.activity(alice, "Like", f"{library.uri}/statuses/3")).encode()
    status, answer = await post(http, url, body, sign(alice, url, body) | honest)
    assert status == 429 and answer["error"].startswith(f"rate limit: too many activities from {peer.host}; ")


async def test_made_up_key_ids_make_at_most_the_allowance_of_fetches_from_their_host(
    resolver: ActorResolver, peer: RemotePeer, alice: PeerUser
) -> None:
    resolver.key_fetches = FetchAllowance(limit=3, seconds=60)
    for n in range(6):
        assert await resolver.lookup_key(f"{peer.base_url}/keys/forged-{n}", False) is None
    assert fetches(peer) == [f"/keys/forged-{n}" for n in range(3)]
    assert (await resolver.lookup_key(alice.key_id, False)) is None  # the allowance is per host, and it is spent
    assert fetches(peer) == [f"/keys/forged-{n}" for n in range(3)]


def test_a_fetch_allowance_renews_each_window() -> None:
    now = [0.0]
    allowance = FetchAllowance(limit=2, seconds=60, clock=lambda: now[0])
    assert [allowance.take("a.example") for _ in range(3)] == [True, True, False]
    assert allowance.take("b.example")
    now[0] = 59.0
    assert not allowance.take("a.example")
    now[0] = 60.0
    assert allowance.take("a.example") and allowance.take("a.example") and not allowance.take("a.example")


async def test_the_inbox_block_snapshot_matches_the_database(
    conn: asyncpg.Connection, settings: Settings, resolver: ActorResolver
) -> None:
    await block_domain(conn, "spam.example")
    await block_domain(conn, "xn--bcher-kva.example")
    await block_domain(conn, "[2001:db8::1]")
    await block_actor(conn, "https://fine.example/users/troll", settings.domain)
    uris = [
        "https://spam.example/users/a", "https://SOCIAL.Spam.Example.:8443/x", "https://user:pw@spam.example/x",
        "https://notspam.example/a", "https://spam.example.org/a", "https://xn--bcher-kva.example/u",
        "https://fine.example/users/troll", "https://fine.example/users/troll2", "https://fine.example/users/TROLL",
        "http://[2001:db8::1]:8080/a", "http://[2001:db8::2]/a", "not a url", "mailto:spam.example", "",
        "https://spam.example?x", "https://example/", "HTTPS://a.spam.example#k",
    ]
    snapshot = await resolver.blocks.snapshot()
    for uri in uris:
        assert snapshot.first_blocked([uri]) == await blocked_among(conn, [uri]), uri


async def test_a_block_made_in_this_process_applies_to_the_inbox_at_once(
    deliver: Deliver, conn: asyncpg.Connection, peer: RemotePeer, alice: PeerUser, library: LocalActor
) -> None:
    assert (await deliver(peer.activity(alice, "Like", f"{library.uri}/statuses/1")))[0] == 202
    await block_domain(conn, peer.name)
    status, answer = await deliver(peer.activity(alice, "Like", f"{library.uri}/statuses/2"))
    assert status == 403 and answer["error"].startswith("blocked: ")
    await unblock_domain(conn, peer.name)
    assert (await deliver(peer.activity(alice, "Like", f"{library.uri}/statuses/3")))[0] == 202
