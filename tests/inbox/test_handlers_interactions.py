"""Likes, reactions (Misskey, Pleroma/Akkoma, custom emoji) and boosts of department posts, and their Undo."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import pytest

from actors.queries import LocalActor
from tests.inbox.conftest import Deliver
from tests.inbox.support import local_post
from tests.peers import PUBLIC, PeerUser, RemotePeer

Fixture = Callable[[str], dict[str, Any]]
Step = Callable[[], Awaitable[int]]


async def interactions(conn: asyncpg.Connection) -> list[tuple[Any, ...]]:
    rows = await conn.fetch(
        """SELECT i.uri, i.kind, a.uri AS actor, p.uri AS post, i.content, i.emoji_url
           FROM interactions i JOIN actors a ON a.id = i.actor_id JOIN posts p ON p.id = i.post_id ORDER BY i.id"""
    )
    return [tuple(r) for r in rows]


@pytest.fixture
def our_post_uri(settings: Any) -> str:
    """The local object the captured Like, Misskey Like and EmojiReact point at."""
    return f"{settings.base_url}/objects/eb92579d-3417-42a8-8652-2492c2d4f454"


async def test_a_like_of_a_department_post_is_recorded(
    deliver: Deliver, fixture: Fixture, process: Step, conn: asyncpg.Connection, library: LocalActor,
    alice: PeerUser, our_post_uri: str,
) -> None:
    await local_post(conn, library, our_post_uri)
    like = fixture("mastodon-like")
    assert (await deliver(like))[0] == 202
    await process()
    assert await interactions(conn) == [(like["id"], "like", alice.uri, our_post_uri, "", None)]


async def test_misskey_likes_with_a_reaction_and_pleroma_emoji_reacts_are_reactions(
    deliver: Deliver, fixture: Fixture, process: Step, conn: asyncpg.Connection, library: LocalActor,
    alice: PeerUser, settings: Any, our_post_uri: str,
) -> None:
    await local_post(conn, library, our_post_uri)
    other = await local_post(conn, library, f"{settings.base_url}/objects/c331bbf7-2eb9-4801-a709-2a6103492a5a")
    custom_target = await local_post(conn, library, f"{settings.base_url}/objects/89937a53-2692-4631-bb62-770091267391")
    misskey, custom, react = fixture("misskey-like"), fixture("custom-emoji-react"), fixture("pleroma-emoji-react")
    for activity in (misskey, custom, react):
        assert (await deliver(activity))[0] == 202
    await process()
    emoji_url = custom["tag"][0]["icon"]["url"]
    assert sorted(await interactions(conn)) == sorted([
        (misskey["id"], "reaction", alice.uri, other["uri"], "🍮", None),  # legacy Misskey "pudding"
        (custom["id"], "reaction", alice.uri, custom_target["uri"], ":hanapog:", emoji_url),
        (react["id"], "reaction", alice.uri, our_post_uri, "👌", None),
    ])


async def test_announce_by_web_address_or_embedded_object_boosts_public_posts_only(
    deliver: Deliver, fixture: Fixture, process: Step, conn: asyncpg.Connection, library: LocalActor,
    peer: RemotePeer, alice: PeerUser, bob: PeerUser,
) -> None:
    public = await local_post(conn, library)
    private = await local_post(conn, library, visibility="private")
    by_url = fixture("mastodon-announce")
    by_url["object"] = public["url"]  # Announce naming the post by its page URL
    embedded = peer.activity(bob, "Announce", {"type": "Note", "id": public["uri"], "content": "forged text"}, to=[PUBLIC])
    of_private = peer.activity(alice, "Announce", private["uri"], to=[PUBLIC])
    await deliver(by_url)
    await deliver(embedded, bob)
    await deliver(of_private)
    await process()
    assert sorted(await interactions(conn)) == sorted([
        (by_url["id"], "announce", alice.uri, public["uri"], "", None),
        (embedded["id"], "announce", bob.uri, public["uri"], "", None),
    ])
    assert await conn.fetchval("SELECT content_html FROM posts WHERE id = $1", public["id"]) != "forged text"


async def test_interactions_with_posts_not_ours_are_ignored(
    deliver: Deliver, fixture: Fixture, process: Step, conn: asyncpg.Connection, peer: RemotePeer, alice: PeerUser
) -> None:
    await deliver(fixture("mastodon-like"))  # the liked post does not exist here
    await deliver(peer.activity(alice, "Like", peer.note(alice, "mine")["id"]))
    await process()
    assert await interactions(conn) == []


async def test_undo_removes_likes_reactions_and_boosts(
    deliver: Deliver, fixture: Fixture, process: Step, conn: asyncpg.Connection, library: LocalActor,
    peer: RemotePeer, alice: PeerUser, our_post_uri: str,
) -> None:
    await local_post(conn, library, our_post_uri)
    public = await local_post(conn, library)
    announce = fixture("mastodon-announce")
    announce["object"] = public["uri"]
    react = fixture("pleroma-emoji-react")
    for activity in (fixture("mastodon-like"), react, announce):
        await deliver(activity)
    await process()
    assert len(await interactions(conn)) == 3

    undo_announce = fixture("mastodon-undo-announce")  # the Announce embedded, with http:// Public
    await deliver(fixture("mastodon-undo-like"))  # the Like embedded
    await deliver(undo_announce)
    await deliver(peer.activity(alice, "Undo", react))  # the EmojiReact embedded
    await process()
    assert await interactions(conn) == []


async def test_undo_naming_the_like_by_id_removes_it(
    deliver: Deliver, fixture: Fixture, process: Step, conn: asyncpg.Connection, library: LocalActor, our_post_uri: str
) -> None:
    await local_post(conn, library, our_post_uri)
    await deliver(fixture("mastodon-like"))
    await process()
    await deliver(fixture("mastodon-undo-like-compact"))
    await process()
    assert await interactions(conn) == []


async def test_undo_of_someone_elses_like_by_id_changes_nothing(
    deliver: Deliver, process: Step, conn: asyncpg.Connection, library: LocalActor, peer: RemotePeer,
    alice: PeerUser, bob: PeerUser,
) -> None:
    post = await local_post(conn, library)
    like = peer.activity(bob, "Like", post["uri"])
    await deliver(like, bob)
    await process()
    await deliver(peer.activity(alice, "Undo", like["id"]))
    await process()
    assert [row[0] for row in await interactions(conn)] == [like["id"]]
