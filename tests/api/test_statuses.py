"""POST/GET/PUT/DELETE /api/v1/statuses, context, pin, favourite and reblog, with their access rules."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import asyncpg
import pytest

from actors.queries import LocalActor
from api.statuses.publishing_queries import set_signature_name, set_signatures
from tests.api.content_fixtures import Caller
from tests.peers import RemotePeer

Call = Callable[[str | None], Caller]


async def post(call: Call, text: str, who: str = "editor", **extra: Any) -> dict[str, Any]:
    reply = await call(who)("POST", "/api/v1/statuses", json={"status": text, **extra})
    assert reply.status == 200, reply.body
    return dict(reply.body)


async def test_post_view_edit_delete(caller: Call, conn: asyncpg.Connection, library: LocalActor) -> None:
    status = await post(caller, "Opening hours #books", spoiler_text="", language="en")
    assert status["content"].startswith("<p>Opening hours")
    assert status["account"]["username"] == "library" and status["visibility"] == "public"
    assert status["tags"] == [{"name": "books", "url": "https://city.example/tags/books"}]
    assert status["favourited"] is False and status["pinned"] is False and status["language"] == "en"
    row = await conn.fetchrow("SELECT staff_id, local FROM posts WHERE id = $1", int(status["id"]))
    assert row["local"] and row["staff_id"] == await conn.fetchval("SELECT id FROM staff WHERE username = 'anna'")

    shown = await caller(None)("GET", f"/api/v1/statuses/{status['id']}")
    assert shown.status == 200 and shown.body["id"] == status["id"] and "favourited" not in shown.body

    edited = await caller("editor")("PUT", f"/api/v1/statuses/{status['id']}", data={"status": "Closed today", "spoiler_text": "News"})
    assert edited.status == 200 and "Closed today" in edited.body["content"]
    assert edited.body["spoiler_text"] == "News" and edited.body["edited_at"] is not None
    source = await caller("viewer")("GET", f"/api/v1/statuses/{status['id']}/source")
    assert source.body == {"id": status["id"], "text": "Closed today", "spoiler_text": "News"}

    deleted = await caller("editor")("DELETE", f"/api/v1/statuses/{status['id']}")
    assert deleted.status == 200 and deleted.body["text"] == "Closed today"
    assert (await caller(None)("GET", f"/api/v1/statuses/{status['id']}")).status == 404
    actions = [r["action"] for r in await conn.fetch("SELECT action FROM audit_log ORDER BY id")]
    assert actions == ["post", "edit", "delete"]


async def test_reply_context_and_visibility(caller: Call) -> None:
    first = await post(caller, "Question time")
    answer = await post(caller, "Yes", in_reply_to_id=first["id"])
    hidden = await post(caller, "Staff only", visibility="private", in_reply_to_id=answer["id"])
    assert answer["in_reply_to_id"] == first["id"] and answer["in_reply_to_account_id"] == first["account"]["id"]
    context = await caller("viewer")("GET", f"/api/v1/statuses/{answer['id']}/context")
    assert [s["id"] for s in context.body["ancestors"]] == [first["id"]]
    assert [s["id"] for s in context.body["descendants"]] == [hidden["id"]]
    anonymous = await caller(None)("GET", f"/api/v1/statuses/{answer['id']}/context")
    assert anonymous.body["descendants"] == []
    for who in (None, "museum"):
        reply = await caller(who)("GET", f"/api/v1/statuses/{hidden['id']}")
        assert reply.status == 404 and reply.body == {"error": "Record not found"}
    assert (await caller("museum")("POST", "/api/v1/statuses", json={"status": "x", "in_reply_to_id": hidden["id"]})).status == 404


async def test_signature_is_appended_when_the_department_signs(
    caller: Call, conn: asyncpg.Connection, library: LocalActor
) -> None:
    await set_signatures(conn, library.id, True)
    await set_signature_name(conn, await conn.fetchval("SELECT id FROM staff WHERE username = 'anna'"), "Anna, librarian")
    status = await post(caller, "We open at 9.")
    assert status["content"] == "<p>We open at 9.</p><p>— Anna, librarian</p>"
    edited = await caller("editor")("PUT", f"/api/v1/statuses/{status['id']}", data={"status": "We open at 10.\n\n— Anna, librarian"})
    assert edited.body["content"] == "<p>We open at 10.</p><p>— Anna, librarian</p>"
    museum = await post(caller, "Not signed", who="museum")
    assert museum["content"] == "<p>Not signed</p>"


async def test_idempotency_key_gives_back_the_first_status(caller: Call, conn: asyncpg.Connection) -> None:
    headers = {"Idempotency-Key": "abc-123"}
    first = await caller("editor")("POST", "/api/v1/statuses", json={"status": "Once"}, headers=headers)
    again = await caller("editor")("POST", "/api/v1/statuses", json={"status": "Once"}, headers=headers)
    assert first.status == again.status == 200 and first.body["id"] == again.body["id"]
    other = await caller("museum")("POST", "/api/v1/statuses", json={"status": "Once"}, headers=headers)
    assert other.body["id"] != first.body["id"]
    assert await conn.fetchval("SELECT count(*) FROM posts") == 2


async def test_pin_favourite_reblog(caller: Call, conn: asyncpg.Connection) -> None:
    status = await post(caller, "Pin me")
    pinned = await caller("editor")("POST", f"/api/v1/statuses/{status['id']}/pin")
    assert pinned.status == 200 and pinned.body["pinned"] is True
    pinned_list = await caller(None)("GET", f"/api/v1/accounts/{status['account']['id']}/statuses", params={"pinned": "true"})
    assert [s["id"] for s in pinned_list.body] == [status["id"]]
    assert (await caller("editor")("POST", f"/api/v1/statuses/{status['id']}/unpin")).body["pinned"] is False

    liked = await caller("museum")("POST", f"/api/v1/statuses/{status['id']}/favourite")
    assert liked.status == 200 and liked.body["favourited"] is True and liked.body["favourites_count"] == 1
    boosted = await caller("museum")("POST", f"/api/v1/statuses/{status['id']}/reblog")
    assert boosted.status == 200 and boosted.body["reblog"]["id"] == status["id"]
    assert boosted.body["account"]["username"] == "museum" and boosted.body["reblog"]["reblogs_count"] == 1
    by = await caller(None)("GET", f"/api/v1/statuses/{status['id']}/favourited_by")
    assert [a["username"] for a in by.body] == ["museum"]
    by = await caller(None)("GET", f"/api/v1/statuses/{status['id']}/reblogged_by")
    assert [a["username"] for a in by.body] == ["museum"]
    for action, reblogged in (("unfavourite", True), ("unreblog", False), ("unfavourite", False)):
        undone = await caller("museum")("POST", f"/api/v1/statuses/{status['id']}/{action}")
        assert undone.status == 200 and undone.body["favourited"] is False and undone.body["reblogged"] is reblogged
    assert await conn.fetchval("SELECT count(*) FROM interactions") == 0


async def test_private_posts_cannot_be_boosted(caller: Call) -> None:
    status = await post(caller, "Followers only", visibility="private")
    reply = await caller("editor")("POST", f"/api/v1/statuses/{status['id']}/reblog")
    assert reply.status == 422 and "boosted" in reply.body["error"]


@pytest.mark.parametrize(
    ("method", "path", "scope_hint"),
    [
        ("POST", "/api/v1/statuses", "write"),
        ("PUT", "/api/v1/statuses/{id}", "write"),
        ("DELETE", "/api/v1/statuses/{id}", "write"),
        ("POST", "/api/v1/statuses/{id}/favourite", "write"),
        ("POST", "/api/v1/statuses/{id}/reblog", "write"),
        ("POST", "/api/v1/statuses/{id}/pin", "write"),
    ],
)
async def test_changes_need_an_editor_token(caller: Call, method: str, path: str, scope_hint: str) -> None:
    status = await post(caller, "Mine")
    url = path.format(id=status["id"])
    data = {"status": "changed"}
    no_token = await caller(None)(method, url, data=data)
    assert no_token.status == 401 and "error" in no_token.body
    bad_token = await caller("not-a-token")(method, url, data=data)
    assert bad_token.status == 401
    viewer = await caller("viewer")(method, url, data=data)
    assert viewer.status == 403 and "editor" in viewer.body["error"]


@pytest.mark.parametrize("method,action", [("PUT", ""), ("DELETE", ""), ("POST", "/pin"), ("GET", "/source")])
async def test_another_department_cannot_touch_our_statuses(caller: Call, method: str, action: str) -> None:
    status = await post(caller, "Library only")
    reply = await caller("museum")(method, f"/api/v1/statuses/{status['id']}{action}", data={"status": "hijacked"})
    assert reply.status == 404 and reply.body == {"error": "Record not found"}
    assert "Library only" in (await caller(None)("GET", f"/api/v1/statuses/{status['id']}")).body["content"]


@pytest.mark.parametrize(
    "body,message",
    [
        ({"status": "   "}, "blank"),
        ({"status": "x", "visibility": "everyone"}, "Visibility"),
        ({"status": "x" * 5001}, "5001 characters"),
        ({"status": "x", "media_ids": ["999"]}, "media_ids"),
        ({"status": "x", "language": "not a language"}, "language"),
        ({"status": "x", "in_reply_to_id": "abc"}, "in_reply_to_id"),
        ({"status": "x", "scheduled_at": "2001-01-01T00:00:00Z"}, "Scheduled at"),
    ],
)
async def test_bad_input_is_422(caller: Call, body: dict[str, Any], message: str) -> None:
    reply = await caller("editor")("POST", "/api/v1/statuses", json=body)
    assert reply.status == 422 and message in reply.body["error"]


async def test_unknown_statuses_are_404(caller: Call) -> None:
    for method, path in (("GET", "/api/v1/statuses/999"), ("GET", "/api/v1/statuses/abc/context"),
                         ("POST", "/api/v1/statuses/999/favourite"), ("DELETE", "/api/v1/statuses/999")):
        reply = await caller("editor")(method, path)
        assert reply.status == 404 and "error" in reply.body


async def test_reply_to_a_remote_post(caller: Call, conn: asyncpg.Connection, peer: RemotePeer, process_inbox: Any) -> None:
    note = peer.note(peer.users["alice"], "<p>Is the library open?</p>")
    found = await caller("editor")("GET", "/api/v2/search", params={"q": note["id"], "resolve": "true"})
    assert found.status == 200 and len(found.body["statuses"]) == 1
    remote = found.body["statuses"][0]
    assert remote["account"]["acct"] == f"alice@{peer.host}" and remote["uri"] == note["id"]
    answer = await post(caller, "Yes, until 6!", in_reply_to_id=remote["id"])
    assert answer["in_reply_to_id"] == remote["id"]
    assert [m["acct"] for m in answer["mentions"]] == [f"alice@{peer.host}"]


async def test_signature_commands(fedi_command: Any, caller: Call, library: LocalActor) -> None:
    named = await fedi_command("admin", "staff", "signature", "anna", "Anna,  librarian")
    assert named.status == 0 and "anna signs as Anna, librarian" in named.out
    switched = await fedi_command("admin", "department", "signatures", "library", "on")
    assert switched.status == 0 and "library: posts are signed" in switched.out
    assert (await post(caller, "Hello"))["content"] == "<p>Hello</p><p>— Anna, librarian</p>"
    assert (await fedi_command("admin", "department", "signatures", "library", "off")).status == 0
    assert (await post(caller, "Hello again"))["content"] == "<p>Hello again</p>"
    unknown = await fedi_command("admin", "staff", "signature", "nobody", "x")
    assert unknown.status == 2 and "nobody" in unknown.err
    assert (await fedi_command("admin", "department", "signatures", "library", "maybe")).status == 2
