"""Attacks on the client API and on logging in, over real HTTP: each is refused and changes nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import aiohttp
import asyncpg
import pytest

from actors.queries import LocalActor, Staff
from api.oauth.pkce import s256_challenge
from tests.api.browser import OOB, authorize, browser, open_authorize, submit
from tests.api.conftest import CALLBACK, PASSWORD, exchange
from tests.api.content_fixtures import Caller
from tests.security.support import row_counts

Call = Callable[[str | None], Caller]
VERIFIER = "correct-verifier-" + "k" * 40


async def library_status(caller: Call, text: str = "Library only", visibility: str = "public") -> dict[str, Any]:
    """A status the library's editor posts."""
    reply = await caller("editor")("POST", "/api/v1/statuses", json={"status": text, "visibility": visibility})
    assert reply.status == 200, reply.body
    return dict(reply.body)


def refused(reply: Any, status: int, error: str) -> None:
    """The API answered ``status`` with ``{"error": ...}`` containing ``error``."""
    assert reply.status == status, reply.body
    assert isinstance(reply.body, dict) and error in reply.body["error"], reply.body


@pytest.mark.parametrize(
    ("method", "action", "data"),
    [
        ("DELETE", "", None),
        ("PUT", "", {"status": "hijacked"}),
        ("POST", "/pin", None),
        ("GET", "/source", None),
    ],
)
async def test_token_for_one_department_on_anothers_statuses(
    caller: Call, conn: asyncpg.Connection, method: str, action: str, data: dict[str, str] | None
) -> None:
    status = await library_status(caller)
    before = await row_counts(conn)
    reply = await caller("museum")(method, f"/api/v1/statuses/{status['id']}{action}", json=data)
    refused(reply, 404, "Record not found")
    assert await row_counts(conn) == before
    shown = await caller("editor")("GET", f"/api/v1/statuses/{status['id']}")
    assert shown.body["content"] == "<p>Library only</p>" and shown.body["pinned"] is False


async def test_token_for_one_department_reads_none_of_anothers_private_statuses(caller: Call, conn: asyncpg.Connection) -> None:
    hidden = await library_status(caller, "Followers only notice", "private")
    before = await row_counts(conn)
    for path in (f"/api/v1/statuses/{hidden['id']}", f"/api/v1/statuses/{hidden['id']}/context"):
        refused(await caller("museum")("GET", path), 404, "Record not found")
    refused(await caller("museum")("POST", "/api/v1/statuses", json={"status": "x", "in_reply_to_id": hidden["id"]}), 404, "")
    timeline = await caller("museum")("GET", "/api/v1/timelines/home")
    assert timeline.status == 200 and all(s["id"] != hidden["id"] for s in timeline.body)
    assert await row_counts(conn) == before


async def test_viewer_trying_to_post(caller: Call, conn: asyncpg.Connection) -> None:
    before = await row_counts(conn)
    refused(await caller("viewer")("POST", "/api/v1/statuses", json={"status": "Viewers cannot post"}), 403, "editor")
    assert await row_counts(conn) == before


async def test_expired_token(caller: Call, conn: asyncpg.Connection, tokens: dict[str, str]) -> None:
    await conn.execute("UPDATE oauth_tokens SET expires_at = now() - interval '1 second'")
    before = await row_counts(conn)
    for method, path, body in (("GET", "/api/v1/accounts/verify_credentials", None),
                               ("POST", "/api/v1/statuses", {"status": "After expiry"})):
        refused(await caller("editor")(method, path, json=body), 401, "The access token expired")
    assert await row_counts(conn) == before


async def test_revoked_token(
    caller: Call, conn: asyncpg.Connection, http: aiohttp.ClientSession, server: str, app: dict[str, Any], clerk: Staff
) -> None:
    async with browser() as session:
        code = (await authorize(session, server, app["client_id"], "clerk", PASSWORD)).code
    status, token = await exchange(http, server, app, grant_type="authorization_code", code=code, redirect_uri=OOB)
    assert status == 200
    revoke = {"client_id": app["client_id"], "client_secret": app["client_secret"], "token": token["access_token"]}
    async with http.post(f"{server}/oauth/revoke", data=revoke) as response:
        assert response.status == 200
    before = await row_counts(conn)
    revoked = caller(token["access_token"])
    refused(await revoked("POST", "/api/v1/statuses", json={"status": "After revocation"}), 401, "The access token is invalid")
    refused(await revoked("GET", "/api/v1/accounts/verify_credentials"), 401, "The access token is invalid")
    status, answer = await exchange(http, server, app, grant_type="refresh_token", refresh_token=token["refresh_token"])
    assert status == 400 and answer["error"] == "invalid_grant"
    assert await row_counts(conn) == before


async def test_oauth_redirect_uri_mismatch(
    conn: asyncpg.Connection, http: aiohttp.ClientSession, server: str, app: dict[str, Any], clerk: Staff,
    session: aiohttp.ClientSession,
) -> None:
    """An unregistered redirect URI is shown as an error, never followed; a code bound to one URI is refused for another."""
    status, text, form = await open_authorize(session, server, response_type="code", client_id=app["client_id"],
                                              redirect_uri="https://attacker.example/steal", scope="read")
    assert status == 400 and form is None and "attacker.example" not in text
    code = (await authorize(session, server, app["client_id"], "clerk", PASSWORD, redirect_uri=CALLBACK)).code
    for stolen in ("https://attacker.example/steal", OOB, CALLBACK + "/"):
        status, answer = await exchange(http, server, app, grant_type="authorization_code", code=code, redirect_uri=stolen)
        assert status == 400 and answer["error"] == "invalid_grant", stolen
    assert await conn.fetchval("SELECT count(*) FROM oauth_tokens") == 0


async def test_pkce_mismatch(
    conn: asyncpg.Connection, http: aiohttp.ClientSession, server: str, app: dict[str, Any], clerk: Staff,
    session: aiohttp.ClientSession,
) -> None:
    """A code stolen on its way back is useless without the verifier its challenge was made from."""
    pkce = {"code_challenge": s256_challenge(VERIFIER), "code_challenge_method": "S256"}
    code = (await authorize(session, server, app["client_id"], "clerk", PASSWORD, **pkce)).code
    for guess in ({}, {"code_verifier": VERIFIER[:-1] + "x"}, {"code_verifier": s256_challenge(VERIFIER)}):
        status, answer = await exchange(http, server, app, grant_type="authorization_code", code=code, redirect_uri=OOB,
                                        **guess)
        assert status == 400 and answer["error"] == "invalid_grant", guess
    assert await conn.fetchval("SELECT count(*) FROM oauth_tokens") == 0


async def test_login_brute_force(
    conn: asyncpg.Connection, server: str, app: dict[str, Any], clerk: Staff, session: aiohttp.ClientSession
) -> None:
    """After five wrong passwords the address is paused: even the right password is refused, with Retry-After."""
    _, _, form = await open_authorize(session, server, response_type="code", client_id=app["client_id"],
                                      redirect_uri=OOB, scope="read")
    assert form is not None
    for attempt in range(5):
        status, text, _, _ = await submit(session, server, form, form.values(username="clerk", password=f"guess {attempt}"))
        assert status == 200 and "Too many attempts" not in text
    async with session.post(f"{server}/oauth/login", data=form.values(username="clerk", password=PASSWORD),
                            allow_redirects=False) as response:
        assert response.status == 429 and "Too many attempts" in await response.text()
        assert 1 <= int(response.headers["Retry-After"]) <= 300
        assert "Location" not in response.headers
    assert await conn.fetchval("SELECT count(*) FROM oauth_grants") == 0
    assert await conn.fetchval("SELECT count(*) FROM oauth_tokens") == 0


async def test_app_token_cannot_act_as_a_department(
    caller: Call, conn: asyncpg.Connection, http: aiohttp.ClientSession, server: str, app: dict[str, Any],
    library: LocalActor,
) -> None:
    """A client-credentials token (an app, no login) is refused where a department acts."""
    status, token = await exchange(http, server, app, grant_type="client_credentials", scope="read write")
    assert status == 200
    before = await row_counts(conn)
    refused(await caller(token["access_token"])("POST", "/api/v1/statuses", json={"status": "From no one"}), 422,
            "This method requires an authenticated user")
    assert await row_counts(conn) == before
