"""``fedi post`` and ``fedi admin post|pin|unpin|follows``: the real console script against the test's database."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import asyncpg
import pytest

from actors.follow_queries import follow_between, upsert_follow
from actors.staff import add_staff, grant_membership
from fedi.settings import Settings
from keys.keypairs import KeyVault
from outbox import queries
from tests.conftest import FediCommand
from tests.processes import Result, refused
from tests.factories import make_department
from tests.factories import citizen

Fedi = Callable[..., Awaitable[Result]]


@pytest.fixture
def fedi(fedi_command: FediCommand) -> Fedi:
    """Run ``fedi ...`` against the test's database."""
    return fedi_command


async def snapshot(conn: asyncpg.Connection) -> list[list[tuple[object, ...]]]:
    """Every row the commands write."""
    tables = ("posts", "post_mentions", "outbox_activities", "deliveries", "follows")
    return [[tuple(r) for r in await conn.fetch(f"SELECT * FROM {t} ORDER BY 1, 2")] for t in tables]


async def test_post_commands(fedi: Fedi, conn: asyncpg.Connection, settings: Settings, vault: KeyVault) -> None:
    library = await make_department(conn, settings, vault, "library")
    bob = await citizen(conn, "bob", "remote.example")
    await upsert_follow(conn, bob.id, library.id, "https://remote.example/follows/1", "accepted")
    await add_staff(conn, "anna")
    await grant_membership(conn, "anna", "library", "editor")
    await add_staff(conn, "vic")
    await grant_membership(conn, "vic", "library", "viewer")

    posted = await fedi(
        "post", "library", "Story time at 10 #kids", "--cw", "Events", "--language", "en", "--staff", "anna",
        "--visibility", "unlisted",
    )
    assert posted.status == 0, posted.err
    [uri] = posted.lines
    post = await queries.post_by_uri(conn, uri)
    assert post is not None and uri.startswith("https://city.example/users/library/statuses/")
    assert (post.visibility, post.summary, post.sensitive, post.language) == ("unlisted", "Events", True, "en")
    assert post.staff_id == await conn.fetchval("SELECT id FROM staff WHERE username = 'anna'")
    assert await conn.fetchval("SELECT inbox_url FROM deliveries") == "https://remote.example/inbox"

    reply = await fedi("post", "library", "-", "--reply-to", uri, stdin="Bring a cushion\n")
    assert reply.status == 0, reply.err
    stored = await queries.post_by_uri(conn, reply.lines[0])
    assert stored is not None and stored.in_reply_to_id == post.id and stored.source == "Bring a cushion"

    before = await snapshot(conn)
    refused(await fedi("post", "library", "   "), "the post is empty")
    refused(await fedi("post", "library", "Hi", "--visibility", "friends"), "visibility must be one of")
    refused(await fedi("post", "museum", "Hi"), "no department named 'museum'")
    refused(await fedi("post", "library", "Hi", "--staff", "vic"), "vic may not publish as library")
    refused(await fedi("post", "library", "Hi", "--reply-to", "https://city.example/users/library/statuses/999"), "no post")
    refused(await fedi("admin", "post", "edit", uri, ""), "the post is empty")
    refused(await fedi("admin", "post", "delete", "https://city.example/users/library/statuses/999"), "no post")
    refused(await fedi("admin", "unpin", uri), f"{uri} is not pinned")
    assert await snapshot(conn) == before

    edited = await fedi("admin", "post", "edit", post.url or "", "Story time at 11 #kids", "--cw", "")
    assert edited.lines == [f"edited {uri}"], edited.err
    post = await queries.post_by_uri(conn, uri)
    assert post is not None and post.edited_at is not None and post.summary == "" and "at 11" in post.content_html

    assert (await fedi("admin", "pin", uri)).lines == [f"pinned {uri}"]
    assert (await fedi("admin", "unpin", uri)).lines == [f"unpinned {uri}"]
    assert (await fedi("admin", "post", "delete", uri)).lines == [f"deleted {uri}"]
    kinds = [r["activity_type"] for r in await conn.fetch("SELECT activity_type FROM outbox_activities ORDER BY id")]
    assert kinds == ["Create", "Create", "Update", "Add", "Remove", "Delete"]


async def test_follows_commands(fedi: Fedi, conn: asyncpg.Connection, settings: Settings, vault: KeyVault) -> None:
    library = await make_department(conn, settings, vault, "library", manually_approves_followers=True)
    bob = await citizen(conn, "bob", "remote.example")
    carol = await citizen(conn, "carol", "other.example")
    dave = await citizen(conn, "dave", "other.example")
    await upsert_follow(conn, bob.id, library.id, "https://remote.example/users/bob#follows/1", "pending")
    await upsert_follow(conn, carol.id, library.id, "https://other.example/users/carol#follows/1", "pending")
    await upsert_follow(conn, dave.id, library.id, "https://other.example/users/dave#follows/1", "accepted")

    listed = await fedi("admin", "follows", "list", "library", "--pending")
    assert listed.lines[0].split() == ["HANDLE", "ACTOR", "STATE", "SINCE"]
    assert [line.split()[:3] for line in listed.lines[1:]] == [
        ["carol@other.example", carol.uri, "pending"], ["bob@remote.example", bob.uri, "pending"],
    ]
    assert [line.split()[0] for line in (await fedi("admin", "follows", "list", "library")).lines[1:]] == ["dave@other.example"]

    before = await snapshot(conn)
    refused(await fedi("admin", "follows", "approve", "library", dave.uri), f"no pending follow request of library by {dave.uri}")
    refused(await fedi("admin", "follows", "reject", "library", "https://nowhere.example/users/x"), "https://nowhere.example/users/x does not follow library")
    refused(await fedi("admin", "follows", "approve", "museum", bob.uri), "no department named 'museum'")
    assert await snapshot(conn) == before

    assert (await fedi("admin", "follows", "approve", "library", bob.uri)).lines == [f"approved {bob.uri} following library"]
    assert (await fedi("admin", "follows", "reject", "library", carol.uri)).lines == [f"rejected {carol.uri} following library"]
    follow = await follow_between(conn, bob.id, library.id)
    assert follow is not None and follow.state == "accepted"
    assert await follow_between(conn, carol.id, library.id) is None
    rows = await conn.fetch(
        """SELECT a.activity_type, a.payload, d.inbox_url FROM outbox_activities a
           JOIN deliveries d ON d.outbox_activity_id = a.id ORDER BY a.id"""
    )
    assert [(r["activity_type"], r["inbox_url"], r["payload"]["object"]["id"]) for r in rows] == [
        ("Accept", bob.inbox_url, "https://remote.example/users/bob#follows/1"),
        ("Reject", carol.inbox_url, "https://other.example/users/carol#follows/1"),
    ]
    assert (await fedi("admin", "follows", "list", "library", "--pending")).lines == ["no pending follow requests"]
