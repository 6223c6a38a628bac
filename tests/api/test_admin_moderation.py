"""Mastodon's admin API for instance moderators: domain blocks and suspending remote accounts.

Over real HTTP with stored tokens, and with Mastodon.py's admin methods after a real OAuth login.
Only a staff member flagged as moderator, with a token granting the admin scope, gets in.
"""

from __future__ import annotations

import asyncio
import hashlib

import aiohttp
import asyncpg
import pytest
from mastodon import Mastodon, MastodonAPIError

from actors.block_queries import set_moderator
from actors.blocks import block_domain
from actors.follows import record_follow
from actors.queries import LocalActor, Staff
from api.admin.access import NOT_ALLOWED
from api.tokens import issue_token
from tests.api.browser import OOB, authorize_url, browser
from tests.api.conftest import make_staff
from tests.api.content_fixtures import Caller
from tests.factories import citizen

ADMIN_SCOPES = "read admin:read admin:write"
BLOCKS = "/api/v1/admin/domain_blocks"


@pytest.fixture
async def mona(conn: asyncpg.Connection, library: LocalActor) -> Staff:
    """An editor of the library who is an instance moderator."""
    staff = await make_staff(conn, "mona", {"library": "editor"})
    await set_moderator(conn, staff.id, True)
    return staff


async def token(conn: asyncpg.Connection, staff: Staff, department: LocalActor, scopes: str = ADMIN_SCOPES) -> str:
    """A stored access token for ``staff`` acting as ``department``."""
    return (await issue_token(conn, scopes=scopes, staff_id=staff.id, actor_id=department.id)).access_token


@pytest.fixture
async def admin(http: aiohttp.ClientSession, server: str, conn: asyncpg.Connection, mona: Staff, library: LocalActor) -> Caller:
    """API calls as the moderator, with the admin scopes."""
    return Caller(http, server, await token(conn, mona, library))


async def test_a_domain_block_is_created_listed_changed_and_lifted(
    admin: Caller, conn: asyncpg.Connection, library: LocalActor
) -> None:
    erin = await citizen(conn, "erin", "social.spam.example")
    await record_follow(conn, erin, library, "https://social.spam.example/follows/1")
    created = await admin("POST", BLOCKS, json={"domain": "Spam.Example", "severity": "suspend",
                                                 "public_comment": "Spam", "private_comment": "wave of 11/24"})
    assert created.status == 200, created.body
    block = created.body
    assert {k: v for k, v in block.items() if k not in ("id", "created_at")} == {
        "domain": "spam.example", "digest": hashlib.sha256(b"spam.example").hexdigest(), "severity": "suspend",
        "reject_media": True, "reject_reports": True, "private_comment": "wave of 11/24", "public_comment": "Spam",
        "obfuscate": False,
    }
    assert await conn.fetchval("SELECT count(*) FROM follows") == 0  # the blocked domain's follows are gone

    assert (await admin("GET", BLOCKS)).body == [block]
    assert (await admin("GET", f"{BLOCKS}/{block['id']}")).body == block
    changed = await admin("PUT", f"{BLOCKS}/{block['id']}", data={"public_comment": "Spam and abuse"})
    assert changed.status == 200 and changed.body["public_comment"] == "Spam and abuse"
    assert changed.body["private_comment"] == "wave of 11/24"

    again = await admin("POST", BLOCKS, data={"domain": "spam.example"})
    assert again.status == 422
    assert again.body["error"] == "spam.example is blocked already"
    assert again.body["existing_domain_block"]["id"] == block["id"]

    assert (await admin("DELETE", f"{BLOCKS}/{block['id']}")).body == {}
    missing = await admin("GET", f"{BLOCKS}/{block['id']}")
    assert (missing.status, missing.body) == (404, {"error": "Record not found"})
    assert (await admin("GET", BLOCKS)).body == []
    assert (await admin("DELETE", f"{BLOCKS}/{block['id']}")).status == 404


async def test_domain_blocks_are_paged_newest_first(admin: Caller) -> None:
    for name in ("a.example", "b.example", "c.example"):
        assert (await admin("POST", BLOCKS, data={"domain": name})).status == 200
    first = await admin("GET", BLOCKS, params={"limit": "2"})
    assert [b["domain"] for b in first.body] == ["c.example", "b.example"]
    assert 'rel="next"' in first.headers["Link"]
    oldest = min(int(b["id"]) for b in first.body)
    rest = await admin("GET", BLOCKS, params={"limit": "2", "max_id": str(oldest)})
    assert [b["domain"] for b in rest.body] == ["a.example"]


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({}, "Validation failed: Domain can't be blank"),
        ({"domain": "not a domain"}, "'not a domain' is not a domain name (e.g. spam.example)"),
        ({"domain": "spam.example", "severity": "silence"},
         "severity 'silence' is not supported: fedi only suspends domains (severity=suspend)"),
        ({"domain": "spam.example", "reject_media": "perhaps"}, "reject_media must be true or false"),
        ({"domain": "spam.example", "private_comment": "x" * 1001}, "the private comment is longer than 1000 characters"),
        ({"domain": "example"}, "a block of example would cover this server's own domain"),
    ],
)
async def test_bad_domain_blocks_are_refused_with_422(
    admin: Caller, conn: asyncpg.Connection, fields: dict[str, str], error: str
) -> None:
    answer = await admin("POST", BLOCKS, data=fields)
    assert (answer.status, answer.body) == (422, {"error": error})
    assert await conn.fetchval("SELECT count(*) FROM blocked_domains") == 0


async def test_only_moderators_with_an_admin_scope_get_in(
    http: aiohttp.ClientSession, server: str, conn: asyncpg.Connection, mona: Staff, clerk: Staff, library: LocalActor,
) -> None:
    anonymous = await Caller(http, server, None)("GET", BLOCKS)
    assert anonymous.status == 401
    not_moderator = Caller(http, server, await token(conn, clerk, library))
    answer = await not_moderator("POST", BLOCKS, data={"domain": "spam.example"})
    assert (answer.status, answer.body) == (403, {"error": NOT_ALLOWED})
    no_admin_scope = Caller(http, server, await token(conn, mona, library, "read write follow"))
    answer = await no_admin_scope("GET", BLOCKS)
    assert (answer.status, answer.body) == (403, {"error": "This action is outside the authorized scopes"})
    read_only = Caller(http, server, await token(conn, mona, library, "admin:read:domain_blocks"))
    assert (await read_only("GET", BLOCKS)).status == 200
    assert (await read_only("POST", BLOCKS, data={"domain": "spam.example"})).status == 403
    moderator = Caller(http, server, await token(conn, mona, library))
    assert (await moderator("GET", BLOCKS)).status == 200
    await set_moderator(conn, mona.id, False)  # revoking the flag takes effect at once
    assert (await moderator("GET", BLOCKS)).status == 403
    assert await conn.fetchval("SELECT count(*) FROM blocked_domains") == 0


async def test_suspending_and_unsuspending_a_remote_account(
    admin: Caller, conn: asyncpg.Connection, library: LocalActor
) -> None:
    erin = await citizen(conn, "erin", "fine.example")
    await record_follow(conn, erin, library, "https://fine.example/follows/1")
    action = f"/api/v1/admin/accounts/{erin.id}/action"
    assert (await admin("POST", action, data={"type": "silence"})).status == 422
    suspended = await admin("POST", action, data={"type": "suspend", "text": "harassment"})
    assert (suspended.status, suspended.body) == (200, {})
    assert await conn.fetchval("SELECT comment FROM blocked_actors WHERE uri = $1", erin.uri) == "harassment"
    assert await conn.fetchval("SELECT count(*) FROM follows") == 0
    assert (await admin("POST", action, data={"type": "suspend"})).status == 200  # suspended already: still so

    lifted = await admin("POST", f"/api/v1/admin/accounts/{erin.id}/unsuspend")
    assert lifted.status == 200, lifted.body
    assert (lifted.body["id"], lifted.body["username"], lifted.body["domain"]) == (str(erin.id), "erin", "fine.example")
    assert lifted.body["suspended"] is False and lifted.body["account"]["acct"] == "erin@fine.example"
    again = await admin("POST", f"/api/v1/admin/accounts/{erin.id}/unsuspend")
    assert (again.status, again.body) == (422, {"error": "cannot unsuspend erin@fine.example: it is not suspended"})
    await block_domain(conn, "fine.example")
    by_domain = await admin("POST", f"/api/v1/admin/accounts/{erin.id}/unsuspend")
    assert by_domain.status == 422 and "lift that block instead" in by_domain.body["error"]


async def test_departments_and_unknown_accounts_cannot_be_suspended(
    admin: Caller, conn: asyncpg.Connection, library: LocalActor
) -> None:
    department = await admin("POST", f"/api/v1/admin/accounts/{library.id}/action", data={"type": "suspend"})
    assert department.status == 422
    assert department.body == {"error": "library is a department of this server: only remote accounts can be suspended"}
    unknown = await admin("POST", "/api/v1/admin/accounts/999999/action", data={"type": "suspend"})
    assert (unknown.status, unknown.body) == (404, {"error": "Record not found"})
    assert await conn.fetchval("SELECT count(*) FROM blocked_actors") == 0


async def test_mastodon_py_admin_methods_after_an_oauth_login(
    server: str, conn: asyncpg.Connection, mona: Staff, library: LocalActor
) -> None:
    scopes = ["read", "admin:read", "admin:write"]
    client_id, client_secret = await asyncio.to_thread(
        Mastodon.create_app, "moderation", scopes=scopes, redirect_uris=OOB, api_base_url=server
    )
    api = Mastodon(client_id=client_id, client_secret=client_secret, api_base_url=server)
    url = await asyncio.to_thread(api.auth_request_url, redirect_uris=OOB, scopes=scopes, allow_http=True)
    async with browser() as session:
        outcome = await authorize_url(session, url, "mona", "correct horse battery staple")
    await asyncio.to_thread(api.log_in, code=outcome.code, redirect_uri=OOB, scopes=scopes, allow_http=True)

    block = await asyncio.to_thread(api.admin_create_domain_block, "spam.example", severity="suspend", public_comment="Spam")
    assert block.domain == "spam.example" and block.severity == "suspend"
    assert [b.domain for b in await asyncio.to_thread(api.admin_domain_blocks)] == ["spam.example"]
    assert (await asyncio.to_thread(api.admin_domain_blocks, id=block.id)).public_comment == "Spam"
    changed = await asyncio.to_thread(api.admin_update_domain_block, block.id, private_comment="seen on 11/24")
    assert changed.private_comment == "seen on 11/24"
    await asyncio.to_thread(api.admin_delete_domain_block, block.id)
    assert await asyncio.to_thread(api.admin_domain_blocks) == []

    erin = await citizen(conn, "erin", "fine.example")
    await asyncio.to_thread(api.admin_account_moderate, erin.id, "suspend")
    assert await conn.fetchval("SELECT count(*) FROM blocked_actors WHERE uri = $1", erin.uri) == 1
    with pytest.raises(MastodonAPIError):
        await asyncio.to_thread(api.admin_account_moderate, erin.id, "silence")
    account = await asyncio.to_thread(api.admin_account_unsuspend, erin.id)
    assert account.suspended is False and account.account.acct == "erin@fine.example"
