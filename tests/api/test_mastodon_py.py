"""The real Mastodon.py library against a running fedi: register, authorize in the browser, log in, use the API.

Mastodon.py blocks, and the server runs in the test's event loop, so its calls run in a thread.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace

import asyncpg
from mastodon import Mastodon

from actors.follows import record_follow
from actors.queries import LocalActor, Staff
from tests.api.browser import OOB, authorize_url, browser
from tests.api.conftest import PASSWORD, make_staff
from tests.factories import citizen

SCOPES = ["read", "write", "follow"]


async def mastodon_login(server: str, client_id: str, client_secret: str, username: str,
                         department: int | None = None) -> Mastodon:
    """A Mastodon.py client logged in through the authorization pages."""
    api = Mastodon(client_id=client_id, client_secret=client_secret, api_base_url=server)
    url = await asyncio.to_thread(api.auth_request_url, redirect_uris=OOB, scopes=SCOPES, allow_http=True)
    assert url.startswith(f"{server}/oauth/authorize?")
    async with browser() as session:
        outcome = await authorize_url(session, url, username, PASSWORD, department=department)
    await asyncio.to_thread(api.log_in, code=outcome.code, redirect_uri=OOB, scopes=SCOPES, allow_http=True)
    return api


async def register(server: str) -> tuple[str, str]:
    """Mastodon.create_app against the server."""
    return await asyncio.to_thread(
        Mastodon.create_app, "Mastodon.py test", scopes=SCOPES, redirect_uris=OOB, api_base_url=server
    )


async def test_mastodon_py_logs_in_and_reads_the_department(
    server: str, clerk: Staff, library: LocalActor, conn: asyncpg.Connection
) -> None:
    client_id, client_secret = await register(server)
    api = await mastodon_login(server, client_id, client_secret, "clerk")
    assert api.mastodon_api_version == 2
    me = await asyncio.to_thread(api.account_verify_credentials)
    assert str(me.id) == str(library.id) and me.acct == "library" and me.source.privacy == "public"
    instance = await asyncio.to_thread(api.instance)
    assert instance.domain == "city.example"
    assert instance.configuration.statuses.max_characters == 5000
    assert instance.registrations.enabled is False
    app = await asyncio.to_thread(api.app_verify_credentials)
    assert app.name == "Mastodon.py test"
    assert (await asyncio.to_thread(api.preferences))["posting:default:visibility"] == "public"
    assert await asyncio.to_thread(api.filters) == []
    assert await asyncio.to_thread(api.custom_emojis) == []


async def test_mastodon_py_edits_the_profile_and_answers_follow_requests(
    server: str, clerk: Staff, library: LocalActor, conn: asyncpg.Connection
) -> None:
    await conn.execute("UPDATE actors SET manually_approves_followers = true WHERE id = $1", library.id)
    alice = await citizen(conn, "alice", "peer.test")
    await record_follow(conn, alice, replace(library, manually_approves_followers=True), "https://peer.test/follows/1")
    api = await mastodon_login(server, *(await register(server)), "clerk")
    me = await asyncio.to_thread(api.account_update_credentials, display_name="City Library", note="Books.",
                                 fields=[("Hours", "9-5")])
    assert me.display_name == "City Library" and me.fields[0].name == "Hours" and me.locked is True
    requests = await asyncio.to_thread(api.follow_requests)
    assert [a.acct for a in requests] == ["alice@peer.test"]
    relationship = await asyncio.to_thread(api.follow_request_authorize, requests[0])
    assert relationship.followed_by is True
    found = await asyncio.to_thread(api.account_lookup, "alice@peer.test")
    assert str(found.id) == str(alice.id)
    relationships = await asyncio.to_thread(api.account_relationships, [found])
    assert relationships[0].followed_by is True
    followers = await asyncio.to_thread(api.account_followers, me)
    assert [a.acct for a in followers] == ["alice@peer.test"]
    saved = await asyncio.to_thread(api.markers_set, ["home"], [12345])
    assert str(saved["home"].last_read_id) == "12345"
    assert str((await asyncio.to_thread(api.markers_get, ["home"]))["home"].last_read_id) == "12345"
    await asyncio.to_thread(api.revoke_access_token, allow_http=True)
    assert await conn.fetchval("SELECT count(*) FROM oauth_tokens WHERE revoked_at IS NULL") == 0


async def test_mastodon_py_one_staff_member_two_departments(
    server: str, conn: asyncpg.Connection, library: LocalActor, museum: LocalActor
) -> None:
    await make_staff(conn, "curator", {"library": "editor", "museum": "viewer"})
    client_id, client_secret = await register(server)
    as_library = await mastodon_login(server, client_id, client_secret, "curator", department=library.id)
    as_museum = await mastodon_login(server, client_id, client_secret, "curator", department=museum.id)
    assert as_library.access_token != as_museum.access_token
    first = await asyncio.to_thread(as_library.account_verify_credentials)
    second = await asyncio.to_thread(as_museum.account_verify_credentials)
    assert (first.acct, second.acct) == ("library", "museum")
    assert first.fedi.staff.role == "editor" and second.fedi.staff.role == "viewer"
    await asyncio.to_thread(as_library.account_update_credentials, display_name="Reading Room")
    assert await conn.fetchval("SELECT display_name FROM actors WHERE id = $1", library.id) == "Reading Room"
    assert await conn.fetchval("SELECT display_name FROM actors WHERE id = $1", museum.id) == "Museum"
