"""Home and public timelines and an account's statuses: what they list, who may read them, Link paging."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

from actors.queries import LocalActor
from tests.api.content_fixtures import Caller
from tests.peers import RemotePeer

Call = Callable[[str | None], Caller]


async def post(call: Call, text: str, who: str = "editor", **extra: Any) -> str:
    reply = await call(who)("POST", "/api/v1/statuses", json={"status": text, **extra})
    assert reply.status == 200, reply.body
    return str(reply.body["id"])


async def test_home_has_own_posts_and_citizens_replies(
    caller: Call, peer: RemotePeer, http: aiohttp.ClientSession, server: str, library: LocalActor,
    process_inbox: Callable[[], Awaitable[int]],
) -> None:
    mine = await post(caller, "Hello citizens")
    hidden = await post(caller, "Staff note", visibility="direct")
    other = await post(caller, "Museum news", who="museum")
    alice = peer.users["alice"]
    own_uri = (await caller(None)("GET", f"/api/v1/statuses/{mine}")).body["uri"]
    reply = peer.note(alice, "<p>Hi!</p>", inReplyTo=own_uri)
    status, _ = await peer.deliver(http, alice, f"{server}/users/library/inbox", peer.activity(alice, "Create", reply), host="city.example")
    assert status == 202
    assert await process_inbox() == 1

    home = await caller("viewer")("GET", "/api/v1/timelines/home")
    assert home.status == 200
    assert [s["content"] for s in home.body] == ["<p>Hi!</p>", "<p>Staff note</p>", "<p>Hello citizens</p>"]
    assert home.body[0]["in_reply_to_id"] == mine and home.body[0]["account"]["acct"] == f"alice@{peer.host}"
    museum_home = await caller("museum")("GET", "/api/v1/timelines/home")
    assert [s["id"] for s in museum_home.body] == [other]
    assert hidden not in [s["id"] for s in (await caller(None)("GET", "/api/v1/timelines/public")).body]


async def test_paging_with_link_headers(caller: Call) -> None:
    ids = [await post(caller, f"Post {n}") for n in range(5)]
    first = await caller("editor")("GET", "/api/v1/timelines/home", params={"limit": "2"})
    assert [s["id"] for s in first.body] == [ids[4], ids[3]]
    link = first.headers["Link"]
    assert f"max_id={ids[3]}" in link and f"min_id={ids[4]}" in link and 'rel="next"' in link
    older = await caller("editor")("GET", "/api/v1/timelines/home", params={"limit": "2", "max_id": ids[3]})
    assert [s["id"] for s in older.body] == [ids[2], ids[1]]
    newer = await caller("editor")("GET", "/api/v1/timelines/home", params={"limit": "2", "min_id": ids[1]})
    assert [s["id"] for s in newer.body] == [ids[3], ids[2]]
    since = await caller("editor")("GET", "/api/v1/timelines/home", params={"since_id": ids[3]})
    assert [s["id"] for s in since.body] == [ids[4]]


async def test_public_timeline_and_account_statuses(caller: Call, library: LocalActor) -> None:
    public = await post(caller, "For everyone #events")
    await post(caller, "Quietly", visibility="unlisted")
    private = await post(caller, "Followers", visibility="private")
    reply = await post(caller, "Self reply", in_reply_to_id=public)
    timeline = await caller(None)("GET", "/api/v1/timelines/public", params={"local": "true"})
    assert [s["id"] for s in timeline.body] == [reply, public]
    assert (await caller(None)("GET", "/api/v1/timelines/public", params={"remote": "true"})).body == []

    anyone = await caller(None)("GET", f"/api/v1/accounts/{library.id}/statuses")
    assert private not in [s["id"] for s in anyone.body] and len(anyone.body) == 3
    own = await caller("viewer")("GET", f"/api/v1/accounts/{library.id}/statuses")
    assert private in [s["id"] for s in own.body]
    tagged = await caller(None)("GET", f"/api/v1/accounts/{library.id}/statuses", params={"tagged": "Events"})
    assert [s["id"] for s in tagged.body] == [public]
    no_replies = await caller(None)("GET", f"/api/v1/accounts/{library.id}/statuses", params={"exclude_replies": "1"})
    assert reply in [s["id"] for s in no_replies.body]  # a reply to oneself stays, as in Mastodon


async def test_timeline_errors(caller: Call) -> None:
    assert (await caller(None)("GET", "/api/v1/timelines/home")).status == 401
    assert (await caller("editor")("GET", "/api/v1/timelines/home", params={"max_id": "x"})).status == 422
    assert (await caller("editor")("GET", "/api/v1/timelines/home", params={"limit": "many"})).status == 422
    missing = await caller(None)("GET", "/api/v1/accounts/99999/statuses")
    assert missing.status == 404 and missing.body == {"error": "Record not found"}
