"""The staff view over real HTTP: login, CSRF, the unanswered replies oldest first, answering, roles, cookies."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone

import aiohttp
import asyncpg
import pytest
from yarl import URL

from actors.login_queries import set_password_hash
from actors.passwords import hash_password
from actors.queries import LocalActor, Staff
from actors.remote import ActorResolver
from actors.staff import add_staff, grant_membership
from fedi.settings import Settings
from keys.keypairs import KeyVault
from outbox.posts import publish_post
from tests.factories import make_department
from tests.web.conftest import citizen_reply

PASSWORD = "correct horse battery staple"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


async def make_staff(conn: asyncpg.Connection, username: str, roles: dict[str, str]) -> Staff:
    """A staff member with the password PASSWORD and a role in each named department."""
    staff = await add_staff(conn, username)
    for department, role in roles.items():
        await grant_membership(conn, username, department, role)
    await set_password_hash(conn, staff.id, hash_password(PASSWORD))
    return staff


@pytest.fixture
async def browser() -> AsyncIterator[aiohttp.ClientSession]:
    """A browser with its own cookie jar (cookies of plain-HTTP loopback servers kept)."""
    session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    yield session
    await session.close()


async def csrf_of(browser: aiohttp.ClientSession, server: str, path: str = "/staff/login") -> str:
    """The CSRF token of the form at ``path``."""
    async with browser.get(server + path) as response:
        match = CSRF.search(await response.text())
    assert match is not None
    return match.group(1)


async def log_in(browser: aiohttp.ClientSession, server: str, username: str, password: str = PASSWORD) -> aiohttp.ClientResponse:
    """Post the login form; return the final response."""
    token = await csrf_of(browser, server)
    async with browser.post(server + "/staff/login", data={"csrf_token": token, "username": username, "password": password}) as response:
        await response.text()
        return response


@pytest.fixture
async def library_post(conn: asyncpg.Connection, settings: Settings, vault: KeyVault, resolver: ActorResolver) -> tuple[LocalActor, str]:
    """The library and one of its posts."""
    library = await make_department(conn, settings, vault, "library")
    post = await publish_post(conn, resolver, settings, library, "The reading room opens at 9.")
    return library, post.uri


async def test_login_failure_then_success(conn: asyncpg.Connection, server: str, browser: aiohttp.ClientSession, library_post: tuple[LocalActor, str]) -> None:
    await make_staff(conn, "clerk", {"library": "editor"})
    failed = await log_in(browser, server, "clerk", "wrong password!")
    assert failed.status == 200 and failed.url.path == "/staff/login"
    async with browser.get(server + "/staff/login") as page:
        assert page.status == 200
    ok = await log_in(browser, server, "clerk")
    assert ok.status == 200 and ok.url.path == "/staff"
    cookie = ok.history[0].headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "samesite=lax" in cookie.lower() and "Secure" not in cookie


async def test_not_logged_in_is_sent_to_login(server: str, browser: aiohttp.ClientSession) -> None:
    async with browser.get(server + "/staff", allow_redirects=False) as response:
        assert response.status == 303 and response.headers["Location"] == "/staff/login"


async def test_login_without_csrf_is_refused(conn: asyncpg.Connection, server: str, browser: aiohttp.ClientSession, library_post: tuple[LocalActor, str]) -> None:
    await make_staff(conn, "clerk", {"library": "editor"})
    async with browser.post(server + "/staff/login", data={"username": "clerk", "password": PASSWORD}) as response:
        assert response.status == 403


async def test_failed_logins_are_throttled(conn: asyncpg.Connection, server: str, browser: aiohttp.ClientSession) -> None:
    for _ in range(5):
        await log_in(browser, server, "nobody", "wrong password!")
    refused = await log_in(browser, server, "nobody", "wrong password!")
    assert refused.status == 429 and int(refused.headers["Retry-After"]) > 0


async def test_unanswered_replies_oldest_first_and_answering(
    conn: asyncpg.Connection, server: str, browser: aiohttp.ClientSession, library_post: tuple[LocalActor, str]
) -> None:
    library, parent = library_post
    staff = await make_staff(conn, "clerk", {"library": "editor"})
    now = datetime.now(timezone.utc)
    newer = await citizen_reply(conn, parent, "<p>Newer question</p>", username="bob", received=now - timedelta(hours=1))
    older = await citizen_reply(conn, parent, "<p>Older question<script>x()</script></p>", received=now - timedelta(hours=5))
    await log_in(browser, server, "clerk")
    async with browser.get(server + "/staff") as response:
        page = await response.text()
    assert page.index("Older question") < page.index("Newer question")
    assert "<script>" not in page and '/@library/' in page and "/staff/reply" in page
    token = CSRF.search(page).group(1)  # type: ignore[union-attr]
    async with browser.post(server + "/staff/reply", data={"post_id": str(older), "text": "We open at 9."}, allow_redirects=False) as response:
        assert response.status == 403  # no CSRF token
    async with browser.post(server + "/staff/reply", data={"csrf_token": token, "post_id": str(older), "text": "We open at 9."}) as response:
        page = await response.text()
    assert response.url.path == "/staff" and "Your answer was published." in page
    assert "Older question" not in page and "Newer question" in page
    answer = await conn.fetchrow(
        "SELECT id, staff_id, in_reply_to_uri FROM posts WHERE local AND in_reply_to_uri IS NOT NULL AND author_id = $1", library.id
    )
    citizen_uri = await conn.fetchval("SELECT uri FROM posts WHERE id = $1", older)
    assert answer["staff_id"] == staff.id and answer["in_reply_to_uri"] == citizen_uri
    assert await conn.fetchval("SELECT count(*) FROM deliveries WHERE host = 'peer.test'") >= 1
    assert await conn.fetchval("SELECT count(*) FROM audit_log WHERE post_id = $1 AND staff_id = $2", answer["id"], staff.id) == 1
    assert newer != older


async def test_viewer_sees_the_list_but_cannot_answer(
    conn: asyncpg.Connection, server: str, browser: aiohttp.ClientSession, library_post: tuple[LocalActor, str]
) -> None:
    _, parent = library_post
    await make_staff(conn, "reader", {"library": "viewer"})
    waiting = await citizen_reply(conn, parent, "<p>A question</p>")
    await log_in(browser, server, "reader")
    async with browser.get(server + "/staff") as response:
        page = await response.text()
    assert "A question" in page and "/staff/reply" not in page
    token = CSRF.search(page).group(1)  # type: ignore[union-attr]
    async with browser.post(server + "/staff/reply", data={"csrf_token": token, "post_id": str(waiting), "text": "Hi"}) as response:
        assert response.status == 403
    assert await conn.fetchval("SELECT count(*) FROM posts WHERE local AND in_reply_to_uri IS NOT NULL") == 0


async def test_other_department_staff_do_not_see_the_list(
    conn: asyncpg.Connection, settings: Settings, vault: KeyVault, server: str, browser: aiohttp.ClientSession,
    library_post: tuple[LocalActor, str],
) -> None:
    _, parent = library_post
    await make_department(conn, settings, vault, "museum")
    await make_staff(conn, "curator", {"museum": "editor"})
    waiting = await citizen_reply(conn, parent, "<p>Library question</p>")
    await log_in(browser, server, "curator")
    async with browser.get(server + "/staff") as response:
        page = await response.text()
    assert "Library question" not in page
    token = CSRF.search(page).group(1)  # type: ignore[union-attr]
    async with browser.post(server + "/staff/reply", data={"csrf_token": token, "post_id": str(waiting), "text": "Hi"}) as response:
        assert response.status == 404


async def test_staff_of_several_departments_choose_one(
    conn: asyncpg.Connection, settings: Settings, vault: KeyVault, server: str, browser: aiohttp.ClientSession,
    library_post: tuple[LocalActor, str],
) -> None:
    library, parent = library_post
    await make_department(conn, settings, vault, "museum")
    await make_staff(conn, "both", {"library": "editor", "museum": "viewer"})
    await citizen_reply(conn, parent, "<p>Library question</p>")
    chosen = await log_in(browser, server, "both")
    assert chosen.url.path == "/staff/department"
    token = await csrf_of(browser, server, "/staff/department")
    async with browser.post(server + "/staff/department", data={"csrf_token": token, "department": str(library.id)}) as response:
        assert "Library question" in await response.text()


async def test_a_tampered_cookie_is_refused(
    conn: asyncpg.Connection, server: str, browser: aiohttp.ClientSession, library_post: tuple[LocalActor, str]
) -> None:
    await make_staff(conn, "clerk", {"library": "editor"})
    await log_in(browser, server, "clerk")
    value = next(c.value for c in browser.cookie_jar if c.key == "fedi_staff")
    body, _, mac = value.partition(".")
    tampered = body[:-1] + ("A" if body[-1] != "A" else "B") + "." + mac
    browser.cookie_jar.clear()
    browser.cookie_jar.update_cookies({"fedi_staff": tampered}, URL(server + "/staff"))
    async with browser.get(server + "/staff", allow_redirects=False) as response:
        assert response.status == 303 and response.headers["Location"] == "/staff/login"
