"""Accounts: the acting department, profile changes, other accounts, follows, follow requests, settings."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Any

import aiohttp
import asyncpg
import pytest

from actors.departments import ensure_instance_actor
from actors.follow_queries import upsert_follow
from actors.follows import record_follow
from actors.queries import Actor, LocalActor, Staff
from api.tokens import issue_token
from fedi.settings import Settings
from tests.api.conftest import Login, bearer, make_staff
from tests.factories import citizen


async def token_for(conn: asyncpg.Connection, staff: Staff, department: LocalActor, scopes: str = "read write follow",
                    **options: Any) -> str:
    """A token issued directly (the flow itself is tested in test_oauth)."""
    return (await issue_token(conn, scopes=scopes, staff_id=staff.id, actor_id=department.id, **options)).access_token


async def call(http: aiohttp.ClientSession, method: str, url: str, token: str | None = None,
               **kwargs: Any) -> tuple[int, Any, Any]:
    """One request; the status, the JSON answer and the headers."""
    headers = bearer(token) if token else {}
    async with http.request(method, url, headers=headers, **kwargs) as response:
        return response.status, await response.json(), response.headers


@pytest.fixture
async def alice(conn: asyncpg.Connection) -> Actor:
    """A citizen on another server."""
    return await citizen(conn, "alice", "peer.test")


@pytest.fixture
async def bob(conn: asyncpg.Connection) -> Actor:
    """Another citizen."""
    return await citizen(conn, "bob", "other.test")


# verify_credentials


async def test_verify_credentials_is_the_department_with_its_source(
    server: str, http: aiohttp.ClientSession, login: Login, clerk: Staff, library: LocalActor, conn: asyncpg.Connection,
    alice: Actor, bob: Actor,
) -> None:
    await record_follow(conn, alice, library, "https://peer.test/follows/1")
    await record_follow(conn, bob, replace(library, manually_approves_followers=True), "https://other.test/follows/1")
    token = await login()
    status, account, _ = await call(http, "GET", f"{server}/api/v1/accounts/verify_credentials", token)
    assert status == 200
    assert account["id"] == str(library.id) and account["username"] == "library" and account["acct"] == "library"
    assert account["display_name"] == "Library" and account["note"] == "<p>Books and more.</p>"
    assert account["url"] == "https://city.example/@library" and account["uri"] == "https://city.example/users/library"
    assert account["avatar"] == "https://city.example/avatars/original/missing.png"
    assert account["followers_count"] == 1 and account["statuses_count"] == 0 and account["last_status_at"] is None
    assert account["created_at"].endswith("T00:00:00.000Z") and account["bot"] is False and account["group"] is False
    assert account["source"] == {
        "privacy": "public", "sensitive": False, "language": "", "note": "Books and more.", "fields": [],
        "follow_requests_count": 1, "hide_collections": False, "discoverable": True, "indexable": True,
    }
    assert account["fedi"] == {"staff": {"username": "clerk", "role": "editor"}}


async def test_account_keys_match_mastodon(server: str, http: aiohttp.ClientSession, clerk: Staff, library: LocalActor,
                                           conn: asyncpg.Connection) -> None:
    token = await token_for(conn, clerk, library)
    _, account, _ = await call(http, "GET", f"{server}/api/v1/accounts/verify_credentials", token)
    mastodon = {"id", "username", "acct", "display_name", "locked", "bot", "discoverable", "indexable", "group",
                "created_at", "note", "url", "uri", "avatar", "avatar_static", "header", "header_static",
                "followers_count", "following_count", "statuses_count", "last_status_at", "hide_collections",
                "noindex", "emojis", "roles", "fields", "source", "role"}
    assert mastodon <= set(account)


@pytest.mark.parametrize("case", ["missing", "unknown", "revoked", "expired"])
async def test_bad_tokens_are_401(
    server: str, http: aiohttp.ClientSession, clerk: Staff, library: LocalActor, conn: asyncpg.Connection, case: str
) -> None:
    token: str | None = {"missing": None, "unknown": "not-a-token"}.get(case)
    if case == "revoked":
        token = await token_for(conn, clerk, library)
        await conn.execute("UPDATE oauth_tokens SET revoked_at = now()")
    if case == "expired":
        token = await token_for(conn, clerk, library, expires_at=datetime.now(timezone.utc) - timedelta(seconds=1))
    for method, path in [("GET", "verify_credentials"), ("PATCH", "update_credentials")]:
        status, body, _ = await call(http, method, f"{server}/api/v1/accounts/{path}", token)
        assert status == 401 and "error" in body
    for path in ("/api/v1/accounts/relationships?id[]=1", "/api/v1/follow_requests", "/api/v1/preferences",
                 "/api/v1/markers", "/api/v1/filters"):
        status, _, _ = await call(http, "GET", f"{server}{path}", token)
        assert status == 401, path


@pytest.mark.parametrize(
    ("scopes", "method", "path"),
    [
        ("write", "GET", "/api/v1/accounts/verify_credentials"),
        ("read", "PATCH", "/api/v1/accounts/update_credentials"),
        ("write", "GET", "/api/v1/accounts/relationships?id[]=1"),
        ("read:accounts", "GET", "/api/v1/follow_requests"),
        ("read", "POST", "/api/v1/follow_requests/1/authorize"),
        ("write", "GET", "/api/v1/preferences"),
        ("read:statuses", "GET", "/api/v1/filters"),
        ("write", "GET", "/api/v1/markers"),
        ("read", "POST", "/api/v1/markers"),
    ],
)
async def test_missing_scopes_are_403(
    server: str, http: aiohttp.ClientSession, clerk: Staff, library: LocalActor, conn: asyncpg.Connection,
    scopes: str, method: str, path: str,
) -> None:
    token = await token_for(conn, clerk, library, scopes=scopes)
    status, body, _ = await call(http, method, f"{server}{path}", token)
    assert status == 403 and body == {"error": "This action is outside the authorized scopes"}


async def test_profile_scope_is_enough_for_verify_credentials(
    server: str, http: aiohttp.ClientSession, clerk: Staff, library: LocalActor, conn: asyncpg.Connection
) -> None:
    token = await token_for(conn, clerk, library, scopes="profile")
    assert (await call(http, "GET", f"{server}/api/v1/accounts/verify_credentials", token))[0] == 200


# update_credentials


async def test_editors_update_the_profile(
    server: str, http: aiohttp.ClientSession, clerk: Staff, library: LocalActor, conn: asyncpg.Connection
) -> None:
    token = await token_for(conn, clerk, library)
    form = {"display_name": "City Library", "note": "Open 9-5.\nSee https://library.example", "locked": "1",
            "fields_attributes[0][name]": "Hours", "fields_attributes[0][value]": "9-5",
            "fields_attributes[1][name]": "Web", "fields_attributes[1][value]": "https://library.example",
            "fields_attributes[2][name]": "", "fields_attributes[2][value]": "", "source[privacy]": "public"}
    status, account, _ = await call(http, "PATCH", f"{server}/api/v1/accounts/update_credentials", token, data=form)
    assert status == 200, account
    assert account["display_name"] == "City Library" and account["locked"] is True
    assert account["source"]["note"] == "Open 9-5.\nSee https://library.example"
    assert 'href="https://library.example"' in account["note"]
    assert [f["name"] for f in account["fields"]] == ["Hours", "Web"]
    assert account["fields"][1]["value"].startswith('<a href="https://library.example"')
    assert account["source"]["fields"][1] == {"name": "Web", "value": "https://library.example", "verified_at": None}
    row = await conn.fetchrow("SELECT display_name, summary, manually_approves_followers FROM actors WHERE id = $1", library.id)
    assert tuple(row) == ("City Library", "Open 9-5.\nSee https://library.example", True)
    status, account, _ = await call(http, "PATCH", f"{server}/api/v1/accounts/update_credentials", token,
                                    json={"discoverable": False, "fields_attributes": []})
    assert status == 200 and account["discoverable"] is False and account["fields"] == []
    assert account["display_name"] == "City Library"


async def test_viewers_cannot_update_the_profile(
    server: str, http: aiohttp.ClientSession, conn: asyncpg.Connection, library: LocalActor
) -> None:
    viewer = await make_staff(conn, "reader", {"library": "viewer"})
    token = await token_for(conn, viewer, library)
    status, body, _ = await call(http, "PATCH", f"{server}/api/v1/accounts/update_credentials", token,
                                 data={"display_name": "Hacked"})
    assert status == 403 and body == {"error": "this action needs the editor role in the department"}
    assert await conn.fetchval("SELECT display_name FROM actors WHERE id = $1", library.id) == "Library"


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ({"display_name": "x" * 101}, "display_name is too long"),
        ({"avatar": "https://img.example/a.png"}, "set by an administrator"),
        ({"bot": "true"}, "not a bot"),
        ({"source[privacy]": "private"}, "default visibility cannot be changed"),
        ({"source[language]": "fr"}, "default posting language"),
        ({"locked": "maybe"}, "locked must be true or false"),
        ({"fields_attributes[x][name]": "a"}, "indexed by position"),
    ],
)
async def test_bad_profile_changes_are_422(
    server: str, http: aiohttp.ClientSession, clerk: Staff, library: LocalActor, conn: asyncpg.Connection,
    data: dict[str, str], words: str,
) -> None:
    token = await token_for(conn, clerk, library)
    status, body, _ = await call(http, "PATCH", f"{server}/api/v1/accounts/update_credentials", token, data=data)
    assert status == 422 and words in body["error"]


async def test_too_many_fields_are_422(
    server: str, http: aiohttp.ClientSession, clerk: Staff, library: LocalActor, conn: asyncpg.Connection
) -> None:
    token = await token_for(conn, clerk, library)
    fields = [{"name": f"n{i}", "value": "v"} for i in range(17)]
    status, body, _ = await call(http, "PATCH", f"{server}/api/v1/accounts/update_credentials", token,
                                 json={"fields_attributes": fields})
    assert status == 422 and "too many profile fields" in body["error"]


# Other accounts


async def test_accounts_by_id(
    server: str, http: aiohttp.ClientSession, library: LocalActor, alice: Actor, conn: asyncpg.Connection,
    settings: Settings,
) -> None:
    status, account, _ = await call(http, "GET", f"{server}/api/v1/accounts/{library.id}")
    assert status == 200 and account["acct"] == "library" and account["noindex"] is False
    status, account, _ = await call(http, "GET", f"{server}/api/v1/accounts/{alice.id}")
    assert status == 200
    assert account["acct"] == "alice@peer.test" and account["url"] == "https://peer.test/@alice"
    assert account["uri"] == "https://peer.test/users/alice" and "noindex" not in account
    instance_actor = await ensure_instance_actor(conn, settings)
    for missing in ("999999", "abc", "1" * 30, "-1", str(instance_actor.id)):
        status, body, _ = await call(http, "GET", f"{server}/api/v1/accounts/{missing}")
        assert status == 404 and body == {"error": "Record not found"}, missing


async def test_lookup_by_acct(
    server: str, http: aiohttp.ClientSession, library: LocalActor, alice: Actor
) -> None:
    for acct, expected in [("library", library.id), ("@library@city.example", library.id), ("LIBRARY", library.id),
                           ("alice@peer.test", alice.id), ("alice@PEER.test", alice.id)]:
        status, account, _ = await call(http, "GET", f"{server}/api/v1/accounts/lookup", params={"acct": acct})
        assert status == 200 and account["id"] == str(expected), acct
    for acct in ("nobody", "alice@elsewhere.test", "@"):
        status, _, _ = await call(http, "GET", f"{server}/api/v1/accounts/lookup", params={"acct": acct})
        assert status == 404, acct
    status, _, _ = await call(http, "GET", f"{server}/api/v1/accounts/lookup")
    assert status == 422


async def test_followers_and_following_pages(
    server: str, http: aiohttp.ClientSession, library: LocalActor, alice: Actor, bob: Actor, conn: asyncpg.Connection
) -> None:
    await record_follow(conn, alice, library, "https://peer.test/follows/1")
    await record_follow(conn, bob, library, "https://other.test/follows/1")
    await upsert_follow(conn, library.id, alice.id, "https://city.example/follows/1", "accepted")
    status, accounts, headers = await call(http, "GET", f"{server}/api/v1/accounts/{library.id}/followers")
    assert status == 200 and [a["acct"] for a in accounts] == ["bob@other.test", "alice@peer.test"]
    assert accounts[1]["following_count"] == 1 and accounts[1]["followers_count"] == 1
    status, first, headers = await call(http, "GET", f"{server}/api/v1/accounts/{library.id}/followers?limit=1")
    assert [a["acct"] for a in first] == ["bob@other.test"]
    next_url = headers["Link"].split(";")[0].strip("<>")
    assert next_url.startswith(f"{server}/api/v1/accounts/{library.id}/followers?limit=1&max_id=")
    _, second, _ = await call(http, "GET", next_url)
    assert [a["acct"] for a in second] == ["alice@peer.test"]
    prev_url = headers["Link"].split(", ")[1].split(";")[0].strip("<>")
    _, newer, _ = await call(http, "GET", prev_url)
    assert newer == []
    _, following, _ = await call(http, "GET", f"{server}/api/v1/accounts/{library.id}/following")
    assert [a["acct"] for a in following] == ["alice@peer.test"]
    _, reverse, _ = await call(http, "GET", f"{server}/api/v1/accounts/{alice.id}/following")
    assert [a["acct"] for a in reverse] == ["library"]
    status, _, _ = await call(http, "GET", f"{server}/api/v1/accounts/999999/followers")
    assert status == 404


async def test_relationships_of_the_acting_department(
    server: str, http: aiohttp.ClientSession, clerk: Staff, library: LocalActor, alice: Actor, bob: Actor,
    conn: asyncpg.Connection,
) -> None:
    await record_follow(conn, alice, library, "https://peer.test/follows/1")
    await upsert_follow(conn, bob.id, library.id, "https://other.test/follows/1", "pending")
    await upsert_follow(conn, library.id, alice.id, "https://city.example/follows/1", "accepted")
    await conn.execute("INSERT INTO blocks (uri, blocker_id, blocked_id) VALUES ('https://other.test/b/1', $1, $2)",
                       bob.id, library.id)
    token = await token_for(conn, clerk, library)
    status, found, _ = await call(http, "GET", f"{server}/api/v1/accounts/relationships?id[]={bob.id}&id[]={alice.id}"
                                  "&id[]=999999&id[]=x", token)
    assert status == 200 and [r["id"] for r in found] == [str(bob.id), str(alice.id)]
    by_bob, by_alice = found
    assert by_alice["following"] and by_alice["followed_by"] and by_alice["showing_reblogs"]
    assert not by_alice["requested_by"] and not by_alice["blocked_by"]
    assert by_bob["requested_by"] and by_bob["blocked_by"] and not by_bob["followed_by"] and not by_bob["following"]
    assert set(by_bob) == {"id", "following", "showing_reblogs", "notifying", "languages", "followed_by", "blocking",
                           "blocked_by", "muting", "muting_notifications", "requested", "requested_by",
                           "domain_blocking", "endorsed", "note"}


# Follow requests


@pytest.fixture
async def locked_library(conn: asyncpg.Connection, library: LocalActor) -> LocalActor:
    """The library, approving followers by hand."""
    await conn.execute("UPDATE actors SET manually_approves_followers = true WHERE id = $1", library.id)
    return replace(library, manually_approves_followers=True)


async def test_follow_requests_are_listed_approved_and_refused(
    server: str, http: aiohttp.ClientSession, clerk: Staff, locked_library: LocalActor, alice: Actor, bob: Actor,
    conn: asyncpg.Connection,
) -> None:
    await record_follow(conn, alice, locked_library, "https://peer.test/follows/1")
    await record_follow(conn, bob, locked_library, "https://other.test/follows/1")
    token = await token_for(conn, clerk, locked_library)
    status, requests, headers = await call(http, "GET", f"{server}/api/v1/follow_requests", token)
    assert status == 200 and [a["acct"] for a in requests] == ["bob@other.test", "alice@peer.test"]
    assert "Link" in headers
    status, relationship, _ = await call(http, "POST", f"{server}/api/v1/follow_requests/{alice.id}/authorize", token)
    assert status == 200 and relationship["id"] == str(alice.id)
    assert relationship["followed_by"] is True and relationship["requested_by"] is False
    status, relationship, _ = await call(http, "POST", f"{server}/api/v1/follow_requests/{bob.id}/reject", token)
    assert status == 200 and relationship["followed_by"] is False and relationship["requested_by"] is False
    follows = await conn.fetch("SELECT follower_id, state FROM follows ORDER BY id")
    assert [(f["follower_id"], f["state"]) for f in follows] == [(alice.id, "accepted")]
    sent = await conn.fetch(
        """SELECT o.activity_type, o.payload->'object'->>'id' AS follow, d.inbox_url
           FROM outbox_activities o JOIN deliveries d ON d.outbox_activity_id = o.id ORDER BY o.id"""
    )
    assert [(s["activity_type"], s["follow"], s["inbox_url"]) for s in sent] == [
        ("Accept", "https://peer.test/follows/1", "https://peer.test/users/alice/inbox"),
        ("Reject", "https://other.test/follows/1", "https://other.test/users/bob/inbox"),
    ]
    _, requests, _ = await call(http, "GET", f"{server}/api/v1/follow_requests", token)
    assert requests == []
    status, body, _ = await call(http, "POST", f"{server}/api/v1/follow_requests/{alice.id}/authorize", token)
    assert status == 404 and body == {"error": "Record not found"}


async def test_a_department_cannot_decide_another_departments_requests(
    server: str, http: aiohttp.ClientSession, locked_library: LocalActor, museum: LocalActor, alice: Actor,
    conn: asyncpg.Connection,
) -> None:
    await record_follow(conn, alice, locked_library, "https://peer.test/follows/1")
    curator = await make_staff(conn, "curator", {"museum": "admin", "library": "viewer"})
    as_museum = await token_for(conn, curator, museum)
    for action in ("authorize", "reject"):
        status, _, _ = await call(http, "POST", f"{server}/api/v1/follow_requests/{alice.id}/{action}", as_museum)
        assert status == 404
    _, requests, _ = await call(http, "GET", f"{server}/api/v1/follow_requests", as_museum)
    assert requests == []
    as_library_viewer = await token_for(conn, curator, locked_library)
    status, _, _ = await call(http, "POST", f"{server}/api/v1/follow_requests/{alice.id}/authorize", as_library_viewer)
    assert status == 403
    assert await conn.fetchval("SELECT state FROM follows") == "pending"
    assert await conn.fetchval("SELECT count(*) FROM outbox_activities") == 0


# Settings: preferences, filters, custom emojis, markers


async def test_preferences_filters_and_emojis(
    server: str, http: aiohttp.ClientSession, clerk: Staff, library: LocalActor, conn: asyncpg.Connection
) -> None:
    token = await token_for(conn, clerk, library)
    status, preferences, _ = await call(http, "GET", f"{server}/api/v1/preferences", token)
    assert status == 200 and preferences == {
        "posting:default:visibility": "public", "posting:default:sensitive": False, "posting:default:language": None,
        "reading:expand:media": "default", "reading:expand:spoilers": False,
    }
    for path in ("/api/v1/filters", "/api/v2/filters"):
        assert (await call(http, "GET", f"{server}{path}", token))[:2] == (200, [])
    assert (await call(http, "GET", f"{server}/api/v1/custom_emojis"))[:2] == (200, [])


async def test_markers_are_kept_per_staff_member_and_department(
    server: str, http: aiohttp.ClientSession, clerk: Staff, library: LocalActor, museum: LocalActor,
    conn: asyncpg.Connection,
) -> None:
    curator = await make_staff(conn, "curator", {"library": "editor", "museum": "editor"})
    clerk_token = await token_for(conn, clerk, library)
    status, saved, _ = await call(http, "POST", f"{server}/api/v1/markers", clerk_token,
                                  data={"home[last_read_id]": "105", "notifications[last_read_id]": "7"})
    assert status == 200 and set(saved) == {"home", "notifications"}
    assert saved["home"]["last_read_id"] == "105" and saved["home"]["version"] == 0
    assert saved["home"]["updated_at"].endswith("Z")
    status, saved, _ = await call(http, "POST", f"{server}/api/v1/markers", clerk_token, json={"home": {"last_read_id": "110"}})
    assert status == 200 and list(saved) == ["home"] and saved["home"]["version"] == 1
    _, markers, _ = await call(http, "GET", f"{server}/api/v1/markers?timeline[]=home&timeline[]=notifications", clerk_token)
    assert markers["home"]["last_read_id"] == "110" and markers["notifications"]["last_read_id"] == "7"
    assert (await call(http, "GET", f"{server}/api/v1/markers", clerk_token))[1] == {}
    for department in (library, museum):
        token = await token_for(conn, curator, department)
        assert (await call(http, "GET", f"{server}/api/v1/markers?timeline[]=home", token))[1] == {}
    status, body, _ = await call(http, "POST", f"{server}/api/v1/markers", clerk_token, data={"home[last_read_id]": "abc"})
    assert status == 422 and body == {"error": "home[last_read_id] must be an id"}
