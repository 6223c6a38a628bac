"""Publishing: each action stores the post and queues exactly one activity for the right inboxes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

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
from outbox.follow_replies import send_accept, send_reject
from outbox.posts import delete_post, edit_post, pin_post, publish_post, unpin_post
from tests.factories import make_department
from tests.factories import citizen
from tests.peers import RemotePeer
from tests.servers import RunningInstance

FOLLOWERS = "https://city.example/users/library/followers"


@pytest.fixture
def resolver(instance: RunningInstance) -> ActorResolver:
    return instance.services.resolver


@pytest.fixture
async def library(conn: asyncpg.Connection, settings: Settings, vault: KeyVault) -> Actor:
    """The library, followed by two users of remote.example and one of other.example (no shared inbox)."""
    department = await make_department(conn, settings, vault, "library")
    for n, (name, host, shared) in enumerate((("bob", "remote.example", True), ("dave", "remote.example", True), ("carol", "other.example", False))):
        follower = await citizen(conn, name, host, shared_inbox=shared)
        await upsert_follow(conn, follower.id, department.id, f"https://{host}/follows/{n}", "accepted")
    return department


async def activities(conn: asyncpg.Connection) -> list[tuple[str, dict[str, Any], list[str]]]:
    """Each queued activity: its type, payload and sorted delivery inboxes."""
    queued = []
    for row in await conn.fetch("SELECT id, activity_type, payload FROM outbox_activities ORDER BY id"):
        inboxes = await conn.fetch("SELECT inbox_url FROM deliveries WHERE outbox_activity_id = $1", row["id"])
        queued.append((row["activity_type"], row["payload"], sorted(d["inbox_url"] for d in inboxes)))
    return queued


async def snapshot(conn: asyncpg.Connection) -> list[list[tuple[object, ...]]]:
    """Every row publishing writes."""
    tables = ("posts", "post_mentions", "outbox_activities", "deliveries")
    return [[tuple(r) for r in await conn.fetch(f"SELECT * FROM {t} ORDER BY 1, 2")] for t in tables]


FOLLOWER_INBOXES = ["https://other.example/users/carol/inbox", "https://remote.example/inbox"]


async def test_publish_public_post(conn: asyncpg.Connection, settings: Settings, resolver: ActorResolver, library: Actor) -> None:
    post = await publish_post(conn, resolver, settings, library, "  Open late tonight #library\n", language="en")
    assert post.uri == f"https://city.example/users/library/statuses/{post.id}"
    assert post.url == f"https://city.example/@library/{post.id}"
    assert (post.local, post.visibility, post.source, post.language) == (True, "public", "Open late tonight #library", "en")
    assert (post.to_uris, post.cc_uris) == ([AS_PUBLIC], [FOLLOWERS])
    assert post.tags == [{"type": "Hashtag", "href": "https://city.example/tags/library", "name": "#library"}]
    [(kind, activity, inboxes)] = await activities(conn)
    assert kind == "Create" and inboxes == FOLLOWER_INBOXES
    assert activity["id"] == f"{post.uri}/activity" and activity["object"]["id"] == post.uri
    assert activity["object"]["contentMap"] == {"en": post.content_html}
    assert await conn.fetchval("SELECT post_id FROM outbox_activities") == post.id


async def test_mentions_and_visibilities(conn: asyncpg.Connection, settings: Settings, resolver: ActorResolver, library: Actor) -> None:
    erin = await citizen(conn, "erin", "third.example")
    await make_department(conn, settings, KeyVault(settings.secret_key), "parks")
    public = await publish_post(conn, resolver, settings, library, "@erin@third.example @parks see you")
    assert public.cc_uris == [FOLLOWERS, erin.uri, "https://city.example/users/parks"]
    assert [a.uri for a in await queries.mentioned_actors(conn, public.id)] == [erin.uri, "https://city.example/users/parks"]
    unlisted = await publish_post(conn, resolver, settings, library, "quiet note", visibility="unlisted")
    assert (unlisted.to_uris, unlisted.cc_uris) == ([FOLLOWERS], [AS_PUBLIC])
    private = await publish_post(conn, resolver, settings, library, "followers only @erin@third.example", visibility="private")
    assert (private.to_uris, private.cc_uris) == ([FOLLOWERS, erin.uri], [])
    direct = await publish_post(conn, resolver, settings, library, "just you @erin@third.example", visibility="direct")
    assert (direct.to_uris, direct.cc_uris) == ([erin.uri], [])
    queued = await activities(conn)
    assert [inboxes for _, _, inboxes in queued] == [
        sorted([*FOLLOWER_INBOXES, erin.inbox_url]), FOLLOWER_INBOXES, sorted([*FOLLOWER_INBOXES, erin.inbox_url]), [erin.inbox_url],
    ]


async def test_reply_to_remote_post_mentions_its_author(
    conn: asyncpg.Connection, settings: Settings, resolver: ActorResolver, library: Actor, peer: RemotePeer
) -> None:
    question = peer.note(peer.users["alice"], "<p>When does the library open?</p>")
    reply = await publish_post(conn, resolver, settings, library, "At nine!", in_reply_to=question["id"], visibility="unlisted")
    alice = f"{peer.base_url}/users/alice"
    assert (reply.in_reply_to_uri, reply.in_reply_to_id) == (question["id"], None)
    assert reply.cc_uris == [AS_PUBLIC, alice]
    assert reply.tags == [{"type": "Mention", "href": alice, "name": f"@alice@{peer.host}"}]
    [(_, activity, inboxes)] = await activities(conn)
    assert activity["object"]["inReplyTo"] == question["id"]
    assert inboxes == sorted([*FOLLOWER_INBOXES, f"{alice}/inbox"])


async def test_reply_to_local_post(conn: asyncpg.Connection, settings: Settings, resolver: ActorResolver, library: Actor) -> None:
    first = await publish_post(conn, resolver, settings, library, "Summer hours")
    second = await publish_post(conn, resolver, settings, library, "Also on Sundays", in_reply_to=first.url)
    assert (second.in_reply_to_uri, second.in_reply_to_id, second.tags) == (first.uri, first.id, [])
    stats = await queries.note_stats(conn, [first.id])
    assert stats[first.id].reply_uris == (second.uri,) and stats[first.id].replies == 1


async def test_edit(conn: asyncpg.Connection, settings: Settings, resolver: ActorResolver, library: Actor) -> None:
    erin = await citizen(conn, "erin", "third.example")
    post = await publish_post(conn, resolver, settings, library, "Closed @erin@third.example")
    edited = await edit_post(conn, resolver, settings, post.uri, "Closed today #holiday", summary="Hours", language="fr")
    assert edited.edited_at is not None and edited.content_html.startswith("<p>Closed today")
    assert (edited.summary, edited.sensitive, edited.language, edited.cc_uris) == ("Hours", True, "fr", [FOLLOWERS])
    assert await queries.mentioned_actors(conn, post.id) == []
    again = await edit_post(conn, resolver, settings, post.url or "", "Closed today and tomorrow")
    assert again.edited_at is not None and int(again.edited_at.timestamp()) > int(edited.edited_at.timestamp())
    assert again.summary == "Hours" and again.language == "fr"
    _, (kind, update, inboxes), (_, second, _) = await activities(conn)
    assert kind == "Update" and update["id"] == f"{post.uri}#updates/{int(edited.edited_at.timestamp())}"
    assert update["object"]["updated"] and update["object"]["summary"] == "Hours"
    assert inboxes == sorted([*FOLLOWER_INBOXES, erin.inbox_url])  # the actor no longer mentioned hears of it too
    assert second["id"] != update["id"]


async def test_delete(conn: asyncpg.Connection, settings: Settings, resolver: ActorResolver, library: Actor) -> None:
    post = await publish_post(conn, resolver, settings, library, "Oops")
    await pin_post(conn, settings, post.uri)
    deleted = await delete_post(conn, settings, post.uri)
    assert deleted.deleted_at is not None and deleted.pinned_at is None
    kind, activity, inboxes = (await activities(conn))[-1]
    assert kind == "Delete" and activity["object"] == {"id": post.uri, "type": "Tombstone"} and inboxes == FOLLOWER_INBOXES
    for action in (delete_post(conn, settings, post.uri), pin_post(conn, settings, post.uri)):
        with pytest.raises(NotFound):
            await action


async def test_pin_and_unpin(conn: asyncpg.Connection, settings: Settings, resolver: ActorResolver, library: Actor) -> None:
    post = await publish_post(conn, resolver, settings, library, "Read me first")
    pinned = await pin_post(conn, settings, post.uri)
    assert pinned.pinned_at is not None
    assert [p.id for p in await queries.pinned_posts(conn, library.id)] == [post.id]
    with pytest.raises(ValidationError, match="already pinned"):
        await pin_post(conn, settings, post.uri)
    unpinned = await unpin_post(conn, settings, post.uri)
    assert unpinned.pinned_at is None and await queries.pinned_posts(conn, library.id) == []
    kinds = [(kind, a["object"], a["target"], inboxes) for kind, a, inboxes in (await activities(conn))[1:]]
    featured = "https://city.example/users/library/collections/featured"
    assert kinds == [("Add", post.uri, featured, FOLLOWER_INBOXES), ("Remove", post.uri, featured, FOLLOWER_INBOXES)]
    direct = await publish_post(conn, resolver, settings, library, "secret", visibility="direct")
    with pytest.raises(ValidationError, match="only public and unlisted"):
        await pin_post(conn, settings, direct.uri)


async def test_bad_input_changes_nothing(
    conn: asyncpg.Connection, settings: Settings, vault: KeyVault, resolver: ActorResolver, library: Actor
) -> None:
    post = await publish_post(conn, resolver, settings, library, "Hello")
    await make_department(conn, settings, vault, "parks")
    await delete_department(conn, "parks")
    parks = await local_actor_by_username(conn, "parks", include_deleted=True)
    assert parks is not None
    before = await snapshot(conn)
    attempts: list[tuple[type[Exception], Callable[[], Awaitable[object]]]] = [
        (ValidationError, lambda: publish_post(conn, resolver, settings, library, "  \n ")),
        (ValidationError, lambda: publish_post(conn, resolver, settings, library, "x" * 5001)),
        (ValidationError, lambda: publish_post(conn, resolver, settings, library, "Hi", visibility="friends")),
        (ValidationError, lambda: publish_post(conn, resolver, settings, library, "Hi", language="english")),
        (ValidationError, lambda: publish_post(conn, resolver, settings, library, "Hi", summary="w" * 501)),
        (NotFound, lambda: publish_post(conn, resolver, settings, library, "Hi", in_reply_to=f"{library.uri}/statuses/999")),
        (ValidationError, lambda: publish_post(conn, resolver, settings, library, "Hi", in_reply_to="https://other.test:9/notes/1")),
        (ValidationError, lambda: publish_post(conn, resolver, settings, parks, "Hi")),
        (ValidationError, lambda: edit_post(conn, resolver, settings, post.uri, "")),
        (NotFound, lambda: edit_post(conn, resolver, settings, f"{library.uri}/statuses/999", "Hi")),
        (NotFound, lambda: delete_post(conn, settings, "https://remote.example/notes/1")),
        (ValidationError, lambda: unpin_post(conn, settings, post.uri)),
    ]
    for error, attempt in attempts:
        with pytest.raises(error):
            await attempt()
    assert await snapshot(conn) == before
    longest = await publish_post(conn, resolver, settings, library, "x" * 5000)
    assert longest.source == "x" * 5000


async def test_accept_and_reject_go_to_the_personal_inbox(conn: asyncpg.Connection, settings: Settings, library: Actor) -> None:
    erin = await citizen(conn, "erin", "third.example")
    follow = {"@context": "https://www.w3.org/ns/activitystreams", "id": "https://third.example/follows/9", "type": "Follow",
              "actor": erin.uri, "object": library.uri}
    async with conn.transaction():
        accept = await send_accept(conn, settings, library, erin, follow["id"], follow)
        reject = await send_reject(conn, settings, library, erin, "https://third.example/follows/10", None)
    assert accept["object"] == {k: v for k, v in follow.items() if k != "@context"}
    assert reject["object"] == {"id": "https://third.example/follows/10", "type": "Follow", "actor": erin.uri, "object": library.uri}
    queued = await activities(conn)
    assert [(kind, a["id"], inboxes) for kind, a, inboxes in queued] == [
        ("Accept", accept["id"], [erin.inbox_url]), ("Reject", reject["id"], [erin.inbox_url]),
    ]
