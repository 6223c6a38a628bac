"""Notifications written by the database triggers as the inbox stores what citizens do, and their API."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import asyncpg

from actors.queries import LocalActor
from tests.api.content_fixtures import Caller
from tests.peers import PUBLIC, PeerUser, RemotePeer

Call = Callable[[str | None], Caller]


async def send(peer: RemotePeer, http: aiohttp.ClientSession, server: str, user: PeerUser, activity: dict[str, Any]) -> None:
    status, _ = await peer.deliver(http, user, f"{server}/users/library/inbox", activity, host="city.example")
    assert status == 202


async def test_citizens_actions_become_notifications(
    caller: Call, conn: asyncpg.Connection, peer: RemotePeer, http: aiohttp.ClientSession, server: str,
    library: LocalActor, process_inbox: Callable[[], Awaitable[int]],
) -> None:
    alice = peer.users["alice"]
    status = (await caller("editor")("POST", "/api/v1/statuses", json={"status": "Story hour at 4"})).body
    follow = peer.activity(alice, "Follow", library.uri)
    like = peer.activity(alice, "Like", status["uri"])
    reply = peer.note(alice, "<p>Can I bring my kids?</p>", inReplyTo=status["uri"],
                      tag=[{"type": "Mention", "href": library.uri, "name": "@library@city.example"}])
    for activity in (follow, like, peer.activity(alice, "Announce", status["uri"], to=[PUBLIC]), peer.activity(alice, "Create", reply)):
        await send(peer, http, server, alice, activity)
    await process_inbox()

    listed = await caller("viewer")("GET", "/api/v1/notifications")
    assert listed.status == 200
    assert [n["type"] for n in listed.body] == ["mention", "reblog", "favourite", "follow"]
    mention = listed.body[0]
    assert mention["account"]["acct"] == f"alice@{peer.host}" and mention["status"]["in_reply_to_id"] == status["id"]
    assert listed.body[1]["status"]["id"] == status["id"] and "status" not in listed.body[3]
    assert mention["group_key"] == f"ungrouped-{mention['id']}"

    only = await caller("viewer")("GET", "/api/v1/notifications", params=[("types[]", "favourite"), ("types[]", "follow")])
    assert [n["type"] for n in only.body] == ["favourite", "follow"]
    without = await caller("viewer")("GET", "/api/v1/notifications", params=[("exclude_types[]", "mention")])
    assert [n["type"] for n in without.body] == ["reblog", "favourite", "follow"]
    one = await caller("viewer")("GET", f"/api/v1/notifications/{mention['id']}")
    assert one.body["id"] == mention["id"]

    # an Undo takes its notification away; an edit of the reply tells the department
    await send(peer, http, server, alice, peer.activity(alice, "Undo", like))
    edited = {**reply, "content": "<p>Can I bring my two kids?</p>", "updated": "2026-11-24T11:00:00Z"}
    await send(peer, http, server, alice, peer.activity(alice, "Update", edited))
    await process_inbox()
    types = [n["type"] for n in (await caller("editor")("GET", "/api/v1/notifications")).body]
    assert types == ["update", "mention", "reblog", "follow"]

    assert (await caller("viewer")("POST", f"/api/v1/notifications/{mention['id']}/dismiss")).status == 403
    assert (await caller("editor")("POST", f"/api/v1/notifications/{mention['id']}/dismiss")).body == {}
    assert "mention" not in [n["type"] for n in (await caller("editor")("GET", "/api/v1/notifications")).body]
    assert (await caller("editor")("POST", "/api/v1/notifications/clear")).body == {}
    assert (await caller("editor")("GET", "/api/v1/notifications")).body == []
    assert await conn.fetchval("SELECT count(*) FROM notifications WHERE dismissed_at IS NOT NULL") == 4


async def test_follow_requests_and_departments_among_themselves(
    caller: Call, conn: asyncpg.Connection, library: LocalActor, museum: LocalActor,
) -> None:
    citizen = await conn.fetchval(
        """INSERT INTO actors (uri, local, actor_type, username, domain) VALUES ('https://x.test/u/bo', false,
           'Person', 'bo', 'x.test') RETURNING id"""
    )
    follow_id = await conn.fetchval(
        "INSERT INTO follows (uri, follower_id, followee_id, state) VALUES ('https://x.test/f/1', $1, $2, 'pending') RETURNING id",
        citizen, library.id,
    )
    assert [n["type"] for n in (await caller("editor")("GET", "/api/v1/notifications")).body] == ["follow_request"]
    await conn.execute("UPDATE follows SET state = 'accepted' WHERE id = $1", follow_id)
    assert [n["type"] for n in (await caller("editor")("GET", "/api/v1/notifications")).body] == ["follow"]

    # the museum mentions and favourites the library: the library hears of both; nobody hears of itself
    hello = (await caller("museum")("POST", "/api/v1/statuses", json={"status": "Hi @library!"})).body
    own = (await caller("editor")("POST", "/api/v1/statuses", json={"status": "Thanks", "in_reply_to_id": hello["id"]})).body
    await caller("museum")("POST", f"/api/v1/statuses/{own['id']}/favourite")
    await caller("editor")("POST", f"/api/v1/statuses/{own['id']}/favourite")
    library_types = [n["type"] for n in (await caller("editor")("GET", "/api/v1/notifications")).body]
    assert library_types == ["favourite", "mention", "follow"]
    museum_types = [n["type"] for n in (await caller("museum")("GET", "/api/v1/notifications")).body]
    assert museum_types == ["mention"]

    # a deleted post's notifications are no longer shown
    await caller("museum")("DELETE", f"/api/v1/statuses/{hello['id']}")
    assert [n["type"] for n in (await caller("editor")("GET", "/api/v1/notifications")).body] == ["favourite", "follow"]


async def test_notification_errors(caller: Call) -> None:
    assert (await caller(None)("GET", "/api/v1/notifications")).status == 401
    assert (await caller("editor")("GET", "/api/v1/notifications/12345")).status == 404
    assert (await caller("editor")("GET", "/api/v1/notifications/abc")).status == 404
    assert (await caller("editor")("POST", "/api/v1/notifications/12345/dismiss")).status == 404
    assert (await caller(None)("POST", "/api/v1/notifications/clear")).status == 401
    assert (await caller("editor")("GET", "/api/v1/notifications", params={"account_id": "x"})).status == 422
