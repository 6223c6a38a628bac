"""Client API fixtures: departments, a staff member with a password, a registered app, and logging in.

``login`` completes the authorization-code flow over real HTTP (login, department and consent forms)
and exchanges the code at ``/oauth/token``, as a fediverse app does.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import asyncpg
import pytest

from actors.queries import LocalActor, Staff
from actors.staff import add_staff, grant_membership
from api.oauth.passwords import set_password
from fedi.settings import Settings
from keys.keypairs import KeyVault
from tests.api.browser import OOB, authorize, browser
from tests.factories import make_department

PASSWORD = "correct horse battery staple"
CALLBACK = "https://app.example/callback"
Login = Callable[..., Awaitable[str]]


def bearer(token: str) -> dict[str, str]:
    """The Authorization header for ``token``."""
    return {"Authorization": f"Bearer {token}"}


async def make_staff(conn: asyncpg.Connection, username: str, roles: dict[str, str], password: str = PASSWORD) -> Staff:
    """A staff member with a password and a role in each named department."""
    staff = await add_staff(conn, username)
    for department, role in roles.items():
        await grant_membership(conn, username, department, role)
    await set_password(conn, staff.id, password)
    return staff


@pytest.fixture
async def library(conn: asyncpg.Connection, settings: Settings, vault: KeyVault) -> LocalActor:
    """The department most tests act as."""
    return await make_department(conn, settings, vault, "library", summary="Books and more.")


@pytest.fixture
async def museum(conn: asyncpg.Connection, settings: Settings, vault: KeyVault) -> LocalActor:
    """A second department."""
    return await make_department(conn, settings, vault, "museum")


@pytest.fixture
async def clerk(conn: asyncpg.Connection, library: LocalActor) -> Staff:
    """An editor of the library, with the password PASSWORD."""
    return await make_staff(conn, "clerk", {"library": "editor"})


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    """A browser-like session (keeps the CSRF cookie for 127.0.0.1)."""
    async with browser() as opened:
        yield opened


async def register_app(http: aiohttp.ClientSession, server: str, scopes: str = "read write follow push",
                       redirect_uris: list[str] | None = None) -> dict[str, Any]:
    """Register an application over HTTP; its CredentialApplication."""
    body = {"client_name": "Test App", "redirect_uris": redirect_uris or [OOB, CALLBACK], "scopes": scopes,
            "website": "https://app.example"}
    async with http.post(f"{server}/api/v1/apps", json=body) as response:
        assert response.status == 200, await response.text()
        return dict(await response.json())


@pytest.fixture
async def app(http: aiohttp.ClientSession, server: str) -> dict[str, Any]:
    """A registered application (scopes read write follow push; out-of-band and a callback URI)."""
    return await register_app(http, server)


async def exchange(http: aiohttp.ClientSession, server: str, app: dict[str, Any], **fields: str) -> tuple[int, dict[str, Any]]:
    """POST /oauth/token with the app's credentials and ``fields``; the status and JSON answer."""
    data = {"client_id": app["client_id"], "client_secret": app["client_secret"], **fields}
    async with http.post(f"{server}/oauth/token", data=data) as response:
        return response.status, dict(await response.json())


@pytest.fixture
def login(server: str, http: aiohttp.ClientSession, app: dict[str, Any]) -> Login:
    """``await login(username, department=None, scope=...)``: a token from the full authorization-code flow."""

    async def run(username: str = "clerk", department: int | None = None, scope: str = "read write follow",
                  password: str = PASSWORD) -> str:
        """Log in through the pages and exchange the code; the access token."""
        async with browser() as session:
            outcome = await authorize(session, server, app["client_id"], username, password, scope=scope,
                                      department=department)
        status, token = await exchange(http, server, app, grant_type="authorization_code", code=outcome.code,
                                       redirect_uri=OOB)
        assert status == 200, token
        return str(token["access_token"])

    return run

# The content tests' fixtures (tokens, callers, queue runners), registered for every API test module.
from tests.api.content_fixtures import caller, deliver_outgoing, process_inbox, run_scheduled, tokens  # noqa: E402,F401
