"""A real client, Mastodon.py, working as a department's staff: post, converse with a citizen on a peer
server, attach an image with alt text, schedule, read notifications, edit and delete."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import aiohttp
import asyncpg
from mastodon import Mastodon

from actors.queries import LocalActor
from tests.api.content_fixtures import png
from tests.peers import PUBLIC, RemotePeer


async def test_a_staff_member_works_from_mastodon_py(
    tokens: dict[str, str], server: str, conn: asyncpg.Connection, peer: RemotePeer, http: aiohttp.ClientSession,
    library: LocalActor, process_inbox: Callable[[], Awaitable[int]], run_scheduled: Callable[[], Awaitable[int]],
) -> None:
    api = Mastodon(access_token=tokens["editor"], api_base_url=server)

    async def call(method: str, *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(getattr(api, method), *args, **kwargs)

    async def from_alice(kind: str, obj: Any, **extra: Any) -> None:
        activity = peer.activity(alice, kind, obj, **extra)
        status, _ = await peer.deliver(http, alice, f"{server}/users/library/inbox", activity, host="city.example")
        assert status == 202

    # the department posts; alice follows, likes and answers from her server
    toot = await call("status_post", "The library opens at 9 tomorrow.", language="en")
    assert toot["account"]["acct"] == "library" and toot["language"] == "en"
    alice = peer.users["alice"]
    await from_alice("Follow", library.uri)
    await from_alice("Like", toot["uri"])
    reply = peer.note(alice, "<p>Will the reading room be open too?</p>", inReplyTo=toot["uri"], cc=[library.uri],
                      tag=[{"type": "Mention", "href": library.uri, "name": "@library@city.example"}])
    await from_alice("Create", reply)
    await process_inbox()

    notifications = await call("notifications")
    assert [n["type"] for n in notifications] == ["mention", "favourite", "follow"]
    question = notifications[0]["status"]
    assert question["in_reply_to_id"] == toot["id"] and question["account"]["acct"] == f"alice@{peer.host}"
    assert [n["type"] for n in await call("notifications", types=["follow"])] == ["follow"]

    # the answer carries an image with alt text, federated as a Document
    media = await call("media_post", png(8, 6), mime_type="image/png", description="The reading room, empty")
    assert media["description"] == "The reading room, empty" and media["url"].startswith("https://city.example/media/")
    answer = await call("status_post", f"@alice@{peer.host} Yes, from 10.", in_reply_to_id=question["id"], media_ids=[media])
    assert answer["in_reply_to_id"] == question["id"]
    assert [m["description"] for m in answer["media_attachments"]] == ["The reading room, empty"]
    assert [m["acct"] for m in answer["mentions"]] == [f"alice@{peer.host}"]
    context = await call("status_context", toot["id"])
    assert [s["id"] for s in context["descendants"]] == [question["id"], answer["id"]]
    home = await call("timeline_home")
    assert [s["id"] for s in home] == [answer["id"], question["id"], toot["id"]]

    # a post scheduled for later is published by the queue task when due
    when = datetime.now(timezone.utc) + timedelta(minutes=30)
    scheduled = await call("status_post", "Reminder: story hour at 4.", scheduled_at=when)
    assert [s["id"] for s in await call("scheduled_statuses")] == [scheduled["id"]]
    await conn.execute("UPDATE scheduled_statuses SET next_attempt_at = now(), scheduled_at = now()")
    assert await run_scheduled() == 1
    assert (await call("timeline_home", limit=1))[0]["content"] == "<p>Reminder: story hour at 4.</p>"
    assert await call("scheduled_statuses") == []

    # edit, then delete (the answer keeps its text for a redraft)
    edited = await call("status_update", answer["id"], f"@alice@{peer.host} Yes, from 10 to 6.")
    assert "from 10 to 6" in edited["content"] and edited["edited_at"] is not None
    deleted = await call("status_delete", answer["id"])
    assert deleted["text"] == f"@alice@{peer.host} Yes, from 10 to 6."
    assert answer["id"] not in [s["id"] for s in (await call("status_context", toot["id"]))["descendants"]]

    # favourite and boost the citizen's question, then take both back
    assert (await call("status_favourite", question["id"]))["favourited"] is True
    boost = await call("status_reblog", question["id"])
    assert boost["reblog"]["id"] == question["id"] and boost["account"]["acct"] == "library"
    assert (await call("status_unreblog", question["id"]))["reblogged"] is False
    assert (await call("status_unfavourite", question["id"]))["favourited"] is False
    await from_alice("Announce", toot["uri"], to=[PUBLIC])
    await process_inbox()
    assert (await call("notifications", limit=1))[0]["type"] == "reblog"
