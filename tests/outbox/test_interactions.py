"""Likes and boosts by departments: stored, counted, queued for the right inboxes, and undone."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import pytest

from actors.departments import delete_department
from actors.documents import AS_PUBLIC
from actors.errors import NotFound, ValidationError
from actors.follow_queries import upsert_follow
from actors.queries import Actor, local_actor_by_username
from actors.remote import ActorResolver
from fedi.settings import Settings
from keys.keypairs import KeyVault
from outbox import queries
from outbox.interactions import boost_post, like_post, unboost_post, unlike_post
from outbox.posts import delete_post, publish_post
from tests.conftest import FediCommand
from tests.factories import citizen, make_department
from tests.peers import RemotePeer
from tests.processes import refused
from tests.servers import RunningInstance

AS = "https://www.w3.org/ns/activitystreams"
FOLLOWERS = "https://city.example/users/library/followers"
FOLLOWER_INBOXES = ["https://other.example/users/carol/inbox", "https://remote.example/inbox"]


@pytest.fixture
def resolver(instance: RunningInstance) -> ActorResolver:
    return instance.services.resolver


@pytest.fixture
async def library(conn: asyncpg.Connection, settings: Settings, vault: KeyVault) -> Actor:
    """The library, followed by bob (shared inbox) and carol (personal inbox only)."""
    department = await make_department(conn, settings, vault, "library")
    for n, (name, host, shared) in enumerate((("bob", "remote.example", True), ("carol", "other.example", False))):
        follower = await citizen(conn, name, host, shared_inbox=shared)
        await upsert_follow(conn, follower.id, department.id, f"https://{host}/follows/{n}", "accepted")
    return department


@pytest.fixture
async def parks(conn: asyncpg.Connection, settings: Settings, vault: KeyVault) -> Actor:
    """Another department of the same server, whose posts the library likes and boosts."""
    return await make_department(conn, settings, vault, "parks")


async def queued(conn: asyncpg.Connection) -> list[tuple[str, dict[str, Any], list[str]]]:
    """Each queued activity other than a Create: its type, payload and sorted delivery inboxes."""
    found = []
    rows = await conn.fetch(
        "SELECT id, activity_type, payload FROM outbox_activities WHERE activity_type <> 'Create' ORDER BY id"
    )
    for row in rows:
        inboxes = await conn.fetch("SELECT inbox_url FROM deliveries WHERE outbox_activity_id = $1", row["id"])
        found.append((row["activity_type"], row["payload"], sorted(d["inbox_url"] for d in inboxes)))
    return found


async def counts(conn: asyncpg.Connection, post_id: int) -> tuple[int, int]:
    """A post's (likes, boosts) as its Note shows them."""
    stats = (await queries.note_stats(conn, [post_id]))[post_id]
    return stats.likes, stats.boosts


async def snapshot(conn: asyncpg.Connection) -> list[list[tuple[object, ...]]]:
    """Every row liking and boosting writes."""
    tables = ("posts", "interactions", "outbox_activities", "deliveries")
    return [[tuple(r) for r in await conn.fetch(f"SELECT * FROM {t} ORDER BY 1, 2")] for t in tables]


async def test_like_a_local_post(
    conn: asyncpg.Connection, settings: Settings, resolver: ActorResolver, library: Actor, parks: Actor
) -> None:
    post = await publish_post(conn, resolver, settings, parks, "Concert in the park tonight")
    like = await like_post(conn, resolver, settings, library, post.url or "")
    assert (like.kind, like.actor_id, like.post_id, like.post_uri) == ("like", library.id, post.id, post.uri)
    assert like.uri == f"{library.uri}#likes/{like.id}"
    assert await like_post(conn, resolver, settings, library, f" {post.uri} ") == like  # twice: nothing new
    assert await counts(conn, post.id) == (1, 0)
    [(kind, activity, inboxes)] = await queued(conn)
    assert (kind, inboxes) == ("Like", [])  # the author is local: nothing to deliver
    assert activity == {"@context": AS, "id": like.uri, "type": "Like", "actor": library.uri, "object": post.uri}

    assert await unlike_post(conn, settings, library, post.uri) == like
    assert await counts(conn, post.id) == (0, 0)
    kind, undo, inboxes = (await queued(conn))[-1]
    assert (kind, undo["id"], undo["actor"], inboxes) == ("Undo", f"{like.uri}/undo", library.uri, [])
    assert undo["object"] == {k: v for k, v in activity.items() if k != "@context"}
    with pytest.raises(NotFound, match="library has not liked"):
        await unlike_post(conn, settings, library, post.uri)

    again = await like_post(conn, resolver, settings, library, post.uri)
    assert again.uri != like.uri  # a new Like, so receivers that saw the first one take it
    assert [kind for kind, _, _ in await queued(conn)] == ["Like", "Undo", "Like"]


async def test_boost_a_local_post(
    conn: asyncpg.Connection, settings: Settings, resolver: ActorResolver, library: Actor, parks: Actor
) -> None:
    post = await publish_post(conn, resolver, settings, parks, "Trail reopened", visibility="unlisted")
    boost = await boost_post(conn, resolver, settings, library, post.uri)
    assert boost.kind == "announce" and boost.uri == f"{library.uri}#announces/{boost.id}"
    assert await boost_post(conn, resolver, settings, library, post.uri) == boost
    assert await counts(conn, post.id) == (0, 1)
    [(kind, announce, inboxes)] = await queued(conn)
    assert (kind, inboxes) == ("Announce", FOLLOWER_INBOXES)
    assert announce["published"].endswith("Z")
    assert {k: v for k, v in announce.items() if k != "published"} == {
        "@context": AS, "id": boost.uri, "type": "Announce", "actor": library.uri,
        "to": [AS_PUBLIC], "cc": [FOLLOWERS, parks.uri], "object": post.uri,
    }

    assert await unboost_post(conn, settings, library, post.url or "") == boost
    assert await counts(conn, post.id) == (0, 0)
    kind, undo, inboxes = (await queued(conn))[-1]
    assert (kind, inboxes) == ("Undo", FOLLOWER_INBOXES)
    assert (undo["id"], undo["to"], undo["cc"]) == (f"{boost.uri}/undo", [AS_PUBLIC], [FOLLOWERS, parks.uri])
    assert undo["object"] == {k: v for k, v in announce.items() if k != "@context"}
    with pytest.raises(NotFound, match="library has not boosted"):
        await unboost_post(conn, settings, library, post.uri)


async def test_like_and_boost_a_remote_post(
    conn: asyncpg.Connection, settings: Settings, resolver: ActorResolver, library: Actor, peer: RemotePeer
) -> None:
    alice = peer.users["alice"]
    note = peer.note(alice, "<p>Lovely reading room<script>alert(1)</script></p>", summary="Books")
    like = await like_post(conn, resolver, settings, library, note["id"])
    post = await queries.post_by_uri(conn, note["id"])
    assert post is not None and like.post_id == post.id
    assert (post.local, post.visibility, post.url, post.summary) == (False, "public", note["url"], "Books")
    assert post.author_id == await conn.fetchval("SELECT id FROM actors WHERE uri = $1", alice.uri)
    assert "Lovely reading room" in post.content_html and "<script>" not in post.content_html

    boost = await boost_post(conn, resolver, settings, library, note["id"])
    fetches = [path for method, path, _ in peer.requests if method == "GET" and path == urlsplit(note["id"]).path]
    assert len(fetches) == 1  # the stored post is not fetched again
    (_, liked, like_inboxes), (_, announce, boost_inboxes) = await queued(conn)
    assert (liked["object"], like_inboxes) == (note["id"], [alice.inbox])  # a Like goes to the author only
    assert announce["cc"] == [FOLLOWERS, alice.uri] and boost_inboxes == sorted([alice.inbox, *FOLLOWER_INBOXES])
    assert await counts(conn, post.id) == (1, 1)

    await unlike_post(conn, settings, library, note["url"])  # the page URL names it too
    await unboost_post(conn, settings, library, note["id"])
    undos = [(a["object"]["id"], inboxes) for kind, a, inboxes in await queued(conn) if kind == "Undo"]
    assert undos == [(like.uri, [alice.inbox]), (boost.uri, sorted([alice.inbox, *FOLLOWER_INBOXES]))]
    assert await counts(conn, post.id) == (0, 0)


async def test_only_public_and_unlisted_posts_are_boosted(
    conn: asyncpg.Connection, settings: Settings, resolver: ActorResolver, library: Actor, parks: Actor, peer: RemotePeer
) -> None:
    alice = peer.users["alice"]
    private = await publish_post(conn, resolver, settings, parks, "Staff meeting", visibility="private")
    direct = await publish_post(conn, resolver, settings, parks, "Hi @library", visibility="direct")
    followers_only = peer.note(alice, "<p>For my friends</p>", to=[f"{alice.uri}/followers"], cc=[])
    before = await snapshot(conn)
    for uri, visibility in ((private.uri, "private"), (direct.uri, "direct"), (followers_only["id"], "private")):
        with pytest.raises(ValidationError, match=f"only public and unlisted posts can be boosted; {uri} is {visibility}"):
            await boost_post(conn, resolver, settings, library, uri)
    assert await snapshot(conn) == before


async def test_bad_input_changes_nothing(
    conn: asyncpg.Connection, settings: Settings, vault: KeyVault, resolver: ActorResolver, library: Actor, parks: Actor,
    peer: RemotePeer,
) -> None:
    alice = peer.users["alice"]
    post = await publish_post(conn, resolver, settings, parks, "Hello")
    gone = await publish_post(conn, resolver, settings, parks, "Oops")
    await delete_post(conn, settings, gone.uri)
    elsewhere = peer.note(alice, "<p>Not mine</p>", attributedTo="https://other.test/users/mallory")
    await make_department(conn, settings, vault, "museum")
    await delete_department(conn, "museum")
    museum = await local_actor_by_username(conn, "museum", include_deleted=True)
    assert museum is not None
    before = await snapshot(conn)
    attempts: list[tuple[type[Exception], str, Callable[[], Awaitable[object]]]] = [
        (ValidationError, "is not the id or URL of a post", lambda: like_post(conn, resolver, settings, library, "post 12")),
        (ValidationError, "is not the id or URL of a post", lambda: boost_post(conn, resolver, settings, library, "ftp://x/1")),
        (NotFound, "no post", lambda: like_post(conn, resolver, settings, library, f"{parks.uri}/statuses/999")),
        (NotFound, "was deleted", lambda: boost_post(conn, resolver, settings, library, gone.uri)),
        (ValidationError, "answered 404", lambda: like_post(conn, resolver, settings, library, f"{alice.uri}/statuses/999")),
        (ValidationError, "not a post", lambda: like_post(conn, resolver, settings, library, alice.uri)),
        (ValidationError, "no author on its own host", lambda: like_post(conn, resolver, settings, library, elsewhere["id"])),
        (ValidationError, "not a live department", lambda: like_post(conn, resolver, settings, museum, post.uri)),
        (ValidationError, "not a live department", lambda: unlike_post(conn, settings, museum, post.uri)),
        (NotFound, "library has not liked", lambda: unlike_post(conn, settings, library, post.uri)),
        (NotFound, "library has not boosted", lambda: unboost_post(conn, settings, library, post.uri)),
        (NotFound, "library has not liked", lambda: unlike_post(conn, settings, library, f"{alice.uri}/statuses/1")),
    ]
    for error, message, attempt in attempts:
        with pytest.raises(error, match=message):
            await attempt()
    assert await snapshot(conn) == before


async def test_commands(
    fedi_command: FediCommand, conn: asyncpg.Connection, settings: Settings, resolver: ActorResolver, library: Actor,
    parks: Actor,
) -> None:
    post = await publish_post(conn, resolver, settings, parks, "Picnic on Sunday")
    private = await publish_post(conn, resolver, settings, parks, "Staff only", visibility="private")
    for _ in range(2):
        liked = await fedi_command("like", "library", post.url or "")
        assert (liked.status, liked.lines) == (0, [f"liked {post.uri}"]), liked.err
    boosted = await fedi_command("boost", "library", post.uri)
    assert (boosted.status, boosted.lines) == (0, [f"boosted {post.uri}"]), boosted.err
    assert await counts(conn, post.id) == (1, 1)
    assert [kind for kind, _, _ in await queued(conn)] == ["Like", "Announce"]

    before = await snapshot(conn)
    refused(await fedi_command("like", "museum", post.uri), "no department named 'museum'")
    refused(await fedi_command("like", "library", "yesterday"), "'yesterday' is not the id or URL of a post")
    refused(await fedi_command("boost", "library", f"{parks.uri}/statuses/999"), "no post")
    refused(await fedi_command("boost", "library", private.uri), "only public and unlisted posts can be boosted")
    refused(await fedi_command("unlike", "library", private.uri), f"library has not liked {private.uri}")
    refused(await fedi_command("unboost", "parks", post.uri), f"parks has not boosted {post.uri}")
    assert await snapshot(conn) == before

    unliked = await fedi_command("unlike", "library", post.uri)
    assert unliked.lines == [f"unliked {post.uri}"], unliked.err
    unboosted = await fedi_command("unboost", "library", post.url or "")
    assert unboosted.lines == [f"unboosted {post.uri}"], unboosted.err
    assert await counts(conn, post.id) == (0, 0)
    assert [kind for kind, _, _ in await queued(conn)] == ["Like", "Announce", "Undo", "Undo"]
