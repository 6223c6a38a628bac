"""Remote posts: replies in department threads and mentions are stored (sanitized, with their metadata), edited, deleted."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

from actors.queries import LocalActor
from tests.inbox.conftest import Deliver
from tests.inbox.support import FIXTURES, item_state, local_post
from tests.peers import PUBLIC, PeerUser, RemotePeer

Fixture = Callable[[str], dict[str, Any]]
Step = Callable[[], Awaitable[int]]


async def stored(conn: asyncpg.Connection, uri: str) -> dict[str, Any] | None:
    row = await conn.fetchrow("SELECT * FROM posts WHERE uri = $1", uri)
    return None if row is None else dict(row)


def fixture_object(name: str, peer: RemotePeer, user: PeerUser) -> dict[str, Any]:
    """A captured bare object whose author becomes ``user``."""
    text = (FIXTURES / f"{name}.json").read_text(encoding="utf-8")
    return json.loads(text.replace("https://enterprise.lemmy.ml/u/nutomic", user.uri).replace("https://enterprise.lemmy.ml", peer.base_url))


async def test_a_post_mentioning_a_department_is_stored_with_its_metadata(
    deliver: Deliver, fixture: Fixture, process: Step, conn: asyncpg.Connection, library: LocalActor, alice: PeerUser
) -> None:
    create = fixture("mastodon-create-note")  # mentions lain, here the library; cw, sensitive, replies collection
    create["interactionPolicy"] = {"canReply": {"always": [PUBLIC]}}  # extensions we do not know are ignored
    create["object"] |= {"quoteUrl": None, "_misskey_content": "@lain", "directMessage": False, "emojis": [{}]}
    assert (await deliver(create))[0] == 202
    await process()
    post = await stored(conn, create["object"]["id"])
    assert post is not None and not post["local"] and post["object_type"] == "Note"
    assert post["author_id"] == (await conn.fetchval("SELECT id FROM actors WHERE uri = $1", alice.uri))
    assert post["summary"] == "cw" and post["sensitive"] is True and post["visibility"] == "public"
    assert post["to_uris"] == [PUBLIC] and post["cc_uris"] == [f"{alice.uri}/followers", library.uri]
    assert post["tags"] == [{"type": "Mention", "name": "@lain@localtesting.pleroma.lol", "href": library.uri}]
    assert 'class="u-url mention"' in post["content_html"] and post["in_reply_to_id"] is None
    assert post["url"] == create["object"]["url"]
    assert await conn.fetchval("SELECT actor_id FROM post_mentions WHERE post_id = $1", post["id"]) == library.id


async def test_content_map_hashtags_and_a_string_addressee(
    deliver: Deliver, fixture: Fixture, process: Step, conn: asyncpg.Connection, peer: RemotePeer
) -> None:
    with_language = fixture("mastodon-create-note-contentmap")
    with_language["id"] += "-language"
    with_language["object"]["id"] += "-language"
    with_language["object"]["to"] = PUBLIC  # a single string, as Lemmy and Pleroma may write it
    with_hashtag = fixture("mastodon-create-note-hashtag")
    for create in (with_language, with_hashtag):
        assert (await deliver(create))[0] == 202
    await process()
    language = await stored(conn, with_language["object"]["id"])
    assert language["language"] == "en" and "@<span>lain</span>" in language["content_html"]
    assert language["to_uris"] == [PUBLIC] and language["visibility"] == "public"
    hashtag = await stored(conn, with_hashtag["object"]["id"])
    assert {"type": "Hashtag", "name": "#moo", "href": f"{peer.base_url}/tags/moo"} in hashtag["tags"]


async def test_a_reply_to_a_department_post_keeps_its_attachment_metadata(
    deliver: Deliver, fixture: Fixture, process: Step, conn: asyncpg.Connection, library: LocalActor
) -> None:
    ours = await local_post(conn, library)
    create = fixture("mastodon-create-note-attachment")
    create["object"]["inReplyTo"] = ours["uri"]
    create["object"]["attachment"][0] |= {"name": "The reading room", "width": 1200, "height": 800, "blurhash": "UBL_:rOpGG-oBUNG"}
    create["object"]["attachment"].append({"type": "Document", "url": "javascript:alert(1)"})  # not kept
    assert (await deliver(create))[0] == 202
    await process()
    post = await stored(conn, create["object"]["id"])
    assert post["in_reply_to_id"] == ours["id"] and post["in_reply_to_uri"] == ours["uri"]
    assert post["visibility"] == "public" and post["sensitive"] is False and post["summary"] == ""
    [attachment] = post["attachments"]
    assert attachment == {
        "type": "Document", "mediaType": "image/jpeg", "url": create["object"]["attachment"][0]["url"],
        "name": "The reading room", "width": 1200, "height": 800, "blurhash": "UBL_:rOpGG-oBUNG",
    }


async def test_a_reply_to_a_stored_reply_continues_the_thread(
    deliver: Deliver, process: Step, conn: asyncpg.Connection, library: LocalActor, peer: RemotePeer,
    alice: PeerUser, bob: PeerUser,
) -> None:
    ours = await local_post(conn, library)
    first = peer.note(alice, "<p>When?</p>", inReplyTo=ours["uri"], cc=[library.uri])
    second = peer.note(bob, "<p>Monday, I think.</p>", inReplyTo=first["id"], to=[f"{bob.uri}/followers"], cc=[alice.uri])
    await deliver(peer.activity(alice, "Create", first))
    await process()
    await deliver(peer.activity(bob, "Create", second), bob)
    await process()
    reply = await stored(conn, second["id"])
    assert reply["in_reply_to_id"] == (await stored(conn, first["id"]))["id"] and reply["visibility"] == "private"


async def test_posts_that_concern_no_department_are_ignored(
    deliver: Deliver, fixture: Fixture, process: Step, conn: asyncpg.Connection, peer: RemotePeer, alice: PeerUser
) -> None:
    unrelated = fixture("pleroma-create-reply")  # replies to a Misskey thread we never stored
    other = peer.activity(alice, "Create", peer.note(alice, "<p>Nice weather</p>"))
    for create in (unrelated, other):
        assert (await deliver(create))[0] == 202
    await process()
    assert await conn.fetchval("SELECT count(*) FROM posts") == 0
    assert (await item_state(conn, other["id"]))["state"] == "done"


async def test_a_referenced_object_is_fetched_and_html_sanitized(
    deliver: Deliver, process: Step, conn: asyncpg.Connection, library: LocalActor, peer: RemotePeer, alice: PeerUser
) -> None:
    mention = {"type": "Mention", "href": library.uri, "name": "@library@city.example"}
    note = peer.note(alice, '<p onclick="x()">Hi <script>alert(1)</script><a href="javascript:x">x</a></p>', tag=[mention])
    assert (await deliver(peer.activity(alice, "Create", note["id"])))[0] == 202
    await process()
    post = await stored(conn, note["id"])
    assert post["content_html"] == "<p>Hi <a rel=\"nofollow noopener noreferrer\">x</a></p>"


async def test_questions_and_lemmy_pages_are_posts_too(
    deliver: Deliver, fixture: Fixture, process: Step, conn: asyncpg.Connection, library: LocalActor,
    peer: RemotePeer, alice: PeerUser,
) -> None:
    ours = await local_post(conn, library)
    question = fixture("mastodon-create-question")
    question["object"]["inReplyTo"] = ours["uri"]
    page = {**fixture_object("lemmy-page", peer, alice), "tag": [{"type": "Mention", "href": library.uri}]}
    page["id"] = f"{alice.uri}/post/3"
    for create in (question, peer.activity(alice, "Create", page)):
        assert (await deliver(create))[0] == 202
    await process()
    assert (await stored(conn, question["object"]["id"]))["object_type"] == "Question"
    lemmy = await stored(conn, page["id"])
    assert lemmy["object_type"] == "Page" and lemmy["to_uris"] == [page["to"]] and lemmy["summary"] == "Hello Federation!"


async def test_an_update_edits_the_post_of_its_author_only(
    deliver: Deliver, process: Step, conn: asyncpg.Connection, library: LocalActor, peer: RemotePeer,
    alice: PeerUser, bob: PeerUser,
) -> None:
    mention = [{"type": "Mention", "href": library.uri, "name": "@library"}]
    note = peer.note(alice, "<p>Is the library open?</p>", tag=mention, cc=[library.uri])
    bobs = peer.note(bob, "<p>Bob asks too</p>", tag=mention)
    await deliver(peer.activity(alice, "Create", note))
    await deliver(peer.activity(bob, "Create", bobs), bob)
    await process()
    edited = {**note, "content": "<p>Is the library open on Sunday?</p>", "updated": "2026-11-24T11:00:00Z", "sensitive": True}
    await deliver(peer.activity(alice, "Update", edited))
    hijack = {**bobs, "attributedTo": alice.uri, "content": "<p>hijacked</p>"}  # bob's post, claimed by alice
    await deliver(peer.activity(alice, "Update", hijack))
    await process()
    post = await stored(conn, note["id"])
    assert post["content_html"] == "<p>Is the library open on Sunday?</p>" and post["sensitive"] is True
    assert post["edited_at"].isoformat() == "2026-11-24T11:00:00+00:00"
    assert (await stored(conn, bobs["id"]))["content_html"] == "<p>Bob asks too</p>"


async def test_delete_with_a_tombstone_or_by_id_removes_the_authors_post_only(
    deliver: Deliver, fixture: Fixture, process: Step, conn: asyncpg.Connection, library: LocalActor,
    peer: RemotePeer, alice: PeerUser, bob: PeerUser,
) -> None:
    tombstone = fixture("mastodon-delete-note")
    mention = [{"type": "Mention", "href": library.uri}]
    first = peer.note(alice, "<p>one</p>", tag=mention, id=tombstone["object"]["id"])
    second = peer.note(alice, "<p>two</p>", tag=mention)
    bobs = peer.note(bob, "<p>bob's</p>", tag=mention)
    for user, note in ((alice, first), (alice, second), (bob, bobs)):
        await deliver(peer.activity(user, "Create", note), user)
    await process()
    await deliver(tombstone)  # Delete{Tombstone}, as Mastodon sends
    await deliver(peer.activity(alice, "Delete", second["id"]))  # by id, as Lemmy and GoToSocial send
    await deliver(peer.activity(alice, "Delete", bobs["id"]))  # not hers
    await process()
    for note in (first, second):
        post = await stored(conn, note["id"])
        assert post["deleted_at"] is not None and post["content_html"] == ""
        assert await conn.fetchval("SELECT count(*) FROM post_mentions WHERE post_id = $1", post["id"]) == 0
    assert (await stored(conn, bobs["id"]))["deleted_at"] is None
    await deliver(peer.activity(alice, "Create", first))  # a replayed Create does not resurrect it
    await process()
    assert (await stored(conn, first["id"]))["deleted_at"] is not None
