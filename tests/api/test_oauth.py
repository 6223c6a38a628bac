"""OAuth 2: registering apps, the login/department/consent pages, codes, PKCE, tokens, revocation, limits."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import urlencode

import aiohttp
import asyncpg
import pytest

from actors.queries import LocalActor, Staff
from actors.staff import revoke_membership
from api.oauth.pkce import s256_challenge
from api.tokens import hash_secret, issue_token
from tests.api.browser import OOB, authorize, browser, open_authorize, submit
from tests.api.conftest import CALLBACK, PASSWORD, Login, bearer, exchange, make_staff, register_app

VERIFIER = "v" * 20 + "-._~" + "0123456789abcdefghijklmnop"


async def verify(http: aiohttp.ClientSession, server: str, token: str) -> tuple[int, dict[str, Any]]:
    """GET verify_credentials with ``token``."""
    async with http.get(f"{server}/api/v1/accounts/verify_credentials", headers=bearer(token)) as response:
        return response.status, dict(await response.json())


# Registration


async def test_registering_an_app_answers_a_credential_application(
    conn: asyncpg.Connection, server: str, http: aiohttp.ClientSession
) -> None:
    form = {"client_name": "Tusky", "redirect_uris": f"{CALLBACK}\n{OOB}", "scopes": "read write:statuses follow",
            "website": "https://tusky.app"}
    async with http.post(f"{server}/api/v1/apps", data=form) as response:
        assert response.status == 200
        assert response.headers["Cache-Control"] == "no-store"
        app = await response.json()
    assert set(app) == {"id", "name", "website", "scopes", "redirect_uri", "redirect_uris", "client_id",
                        "client_secret", "client_secret_expires_at"}
    assert app["name"] == "Tusky" and app["website"] == "https://tusky.app"
    assert app["scopes"] == ["read", "write:statuses", "follow"]
    assert app["redirect_uris"] == [CALLBACK, OOB] and app["redirect_uri"] == f"{CALLBACK}\n{OOB}"
    assert app["client_secret_expires_at"] == 0
    stored = await conn.fetchrow("SELECT * FROM oauth_applications WHERE client_id = $1", app["client_id"])
    assert stored["client_secret_hash"] == hash_secret(app["client_secret"])
    assert app["client_secret"] not in str(dict(stored))


async def test_scopes_default_to_read(server: str, http: aiohttp.ClientSession) -> None:
    async with http.post(f"{server}/api/v1/apps", json={"client_name": "x", "redirect_uris": OOB}) as response:
        assert (await response.json())["scopes"] == ["read"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"redirect_uris": OOB}, "Validation failed: Name can't be blank"),
        ({"client_name": "x"}, "Validation failed: Redirect URI can't be blank"),
        ({"client_name": "x", "redirect_uris": "/callback"}, "Validation failed: Redirect URI must be an absolute URI."),
        ({"client_name": "x", "redirect_uris": "https://a.example/cb#frag"}, "Validation failed: Redirect URI cannot contain a fragment."),
        ({"client_name": "x", "redirect_uris": "javascript:alert(1)"}, "Validation failed: Redirect URI is forbidden by the server."),
        ({"client_name": "x", "redirect_uris": OOB, "scopes": "read admin:everything"},
         "Validation failed: Scopes doesn't match configured on the server."),
        ({"client_name": "x", "redirect_uris": OOB, "website": "ftp://a.example"}, "Validation failed: Website is invalid"),
        ({"client_name": "x" * 61, "redirect_uris": OOB}, "Validation failed: Name is too long (maximum is 60 characters)"),
    ],
)
async def test_bad_registrations_are_422(server: str, http: aiohttp.ClientSession, body: dict[str, str], message: str) -> None:
    async with http.post(f"{server}/api/v1/apps", json=body) as response:
        assert response.status == 422
        assert await response.json() == {"error": message}


async def test_app_verify_credentials_with_an_app_token(server: str, http: aiohttp.ClientSession, app: dict[str, Any]) -> None:
    status, token = await exchange(http, server, app, grant_type="client_credentials", scope="read")
    assert status == 200 and "refresh_token" not in token
    async with http.get(f"{server}/api/v1/apps/verify_credentials", headers=bearer(token["access_token"])) as response:
        assert response.status == 200
        shown = await response.json()
    assert shown == {"id": app["id"], "name": "Test App", "website": "https://app.example",
                     "scopes": ["read", "write", "follow", "push"], "redirect_uri": f"{OOB}\n{CALLBACK}",
                     "redirect_uris": [OOB, CALLBACK]}
    async with http.get(f"{server}/api/v1/apps/verify_credentials") as response:
        assert response.status == 401
        assert await response.json() == {"error": "The access token is invalid"}


# The authorization pages


async def test_code_flow_redirects_with_code_and_state(
    server: str, http: aiohttp.ClientSession, session: aiohttp.ClientSession, app: dict[str, Any], clerk: Staff,
    library: LocalActor,
) -> None:
    outcome = await authorize(session, server, app["client_id"], "clerk", PASSWORD, redirect_uri=CALLBACK, state="s t&8")
    assert outcome.status == 302 and outcome.location is not None
    assert outcome.location.startswith(f"{CALLBACK}?code=")
    assert outcome.query["state"] == "s t&8"
    status, token = await exchange(http, server, app, grant_type="authorization_code", code=outcome.code,
                                   redirect_uri=CALLBACK)
    assert status == 200
    assert set(token) == {"access_token", "token_type", "scope", "created_at", "refresh_token"}
    assert token["token_type"] == "Bearer" and token["scope"] == "read write follow"
    assert isinstance(token["created_at"], int)
    status, account = await verify(http, server, token["access_token"])
    assert status == 200 and account["id"] == str(library.id) and account["username"] == "library"


async def test_out_of_band_shows_the_code(
    server: str, session: aiohttp.ClientSession, app: dict[str, Any], clerk: Staff
) -> None:
    outcome = await authorize(session, server, app["client_id"], "clerk", PASSWORD)
    assert outcome.status == 200 and outcome.location is None
    assert "Test App" in outcome.text and len(outcome.code) > 40


async def test_pages_are_protected_and_set_a_csrf_cookie(server: str, session: aiohttp.ClientSession, app: dict[str, Any]) -> None:
    params = {"response_type": "code", "client_id": app["client_id"], "redirect_uri": OOB, "scope": "read"}
    async with session.get(f"{server}/oauth/authorize?{urlencode(params)}") as response:
        assert response.status == 200
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["Cache-Control"] == "no-store"
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
        cookie = response.headers["Set-Cookie"]
    assert "fedi_oauth_csrf=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/oauth" in cookie


async def test_consent_page_names_app_department_staff_and_scopes(
    server: str, session: aiohttp.ClientSession, app: dict[str, Any], clerk: Staff
) -> None:
    _, _, form = await open_authorize(session, server, response_type="code", client_id=app["client_id"],
                                      redirect_uri=OOB, scope="read write:statuses")
    assert form is not None
    _, text, _, consent = await submit(session, server, form, form.values(username="clerk", password=PASSWORD))
    assert consent is not None and consent.action == "/oauth/authorize"
    for words in ("Test App", "@library@city.example", "clerk", "editor", "write:statuses", "read all of"):
        assert words in text


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"client_id": "nobody"}, "unknown to the server"),
        ({"redirect_uri": "https://evil.example/cb"}, "not one this application registered"),
        ({"redirect_uri": ""}, "not one this application registered"),
    ],
)
async def test_unknown_client_or_redirect_is_shown_not_redirected(
    server: str, session: aiohttp.ClientSession, app: dict[str, Any], change: dict[str, str], words: str
) -> None:
    params = {"response_type": "code", "client_id": app["client_id"], "redirect_uri": CALLBACK, **change}
    status, text, form = await open_authorize(session, server, **params)
    assert status == 400 and form is None and words in text


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"scope": "read admin:read"}, "invalid_scope"),
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"code_challenge": "x" * 43, "code_challenge_method": "plain"}, "invalid_request"),
        ({"code_challenge": "x" * 43}, "invalid_request"),
        ({"code_challenge_method": "S256"}, "invalid_request"),
        ({"code_challenge": "short", "code_challenge_method": "S256"}, "invalid_request"),
    ],
)
async def test_bad_requests_go_back_to_the_redirect_uri(
    server: str, session: aiohttp.ClientSession, app: dict[str, Any], change: dict[str, str], error: str
) -> None:
    params = {"response_type": "code", "client_id": app["client_id"], "redirect_uri": CALLBACK, "scope": "read",
              "state": "abc", **change}
    async with session.get(f"{server}/oauth/authorize?{urlencode(params)}", allow_redirects=False) as response:
        assert response.status == 302
        location = response.headers["Location"]
    assert location.startswith(f"{CALLBACK}?error={error}&")
    assert location.endswith("&state=abc")


async def test_scopes_beyond_the_registered_ones_are_refused(
    server: str, http: aiohttp.ClientSession, session: aiohttp.ClientSession
) -> None:
    narrow = await register_app(http, server, scopes="read", redirect_uris=[CALLBACK])
    params = {"response_type": "code", "client_id": narrow["client_id"], "redirect_uri": CALLBACK, "scope": "read write"}
    async with session.get(f"{server}/oauth/authorize?{urlencode(params)}", allow_redirects=False) as response:
        assert response.status == 302
        assert response.headers["Location"].startswith(f"{CALLBACK}?error=invalid_scope")


async def test_denying_redirects_access_denied(
    server: str, session: aiohttp.ClientSession, app: dict[str, Any], clerk: Staff, conn: asyncpg.Connection
) -> None:
    outcome = await authorize(session, server, app["client_id"], "clerk", PASSWORD, redirect_uri=CALLBACK,
                              decision="deny", state="q")
    assert outcome.status == 302
    assert outcome.query["error"] == "access_denied" and outcome.query["state"] == "q"
    assert await conn.fetchval("SELECT count(*) FROM oauth_grants") == 0


async def test_a_wrong_password_shows_the_form_again(
    server: str, session: aiohttp.ClientSession, app: dict[str, Any], clerk: Staff, conn: asyncpg.Connection
) -> None:
    outcome = await authorize(session, server, app["client_id"], "clerk", "not the password")
    assert outcome.status == 200 and "Wrong username or password." in outcome.text
    assert "/oauth/login" in outcome.text
    outcome = await authorize(session, server, app["client_id"], "nobody", PASSWORD)
    assert "Wrong username or password." in outcome.text
    attempts = await conn.fetch("SELECT username, succeeded FROM login_attempts ORDER BY id")
    assert [(a["username"], a["succeeded"]) for a in attempts] == [("clerk", False), ("nobody", False)]


async def test_staff_in_no_department_cannot_authorize(
    server: str, session: aiohttp.ClientSession, app: dict[str, Any], conn: asyncpg.Connection, library: LocalActor
) -> None:
    await make_staff(conn, "intern", {})
    outcome = await authorize(session, server, app["client_id"], "intern", PASSWORD)
    assert outcome.status == 403 and "not a member of any department" in outcome.text


async def test_two_departments_give_two_tokens_each_bound_to_its_department(
    server: str, http: aiohttp.ClientSession, conn: asyncpg.Connection, library: LocalActor, museum: LocalActor,
    login: Login,
) -> None:
    await make_staff(conn, "curator", {"library": "viewer", "museum": "admin"})
    as_library = await login("curator", department=library.id)
    as_museum = await login("curator", department=museum.id)
    status, first = await verify(http, server, as_library)
    assert status == 200 and first["id"] == str(library.id) and first["fedi"]["staff"] == {"username": "curator", "role": "viewer"}
    status, second = await verify(http, server, as_museum)
    assert status == 200 and second["id"] == str(museum.id) and second["fedi"]["staff"]["role"] == "admin"


async def test_department_page_refuses_a_department_not_ones_own(
    server: str, session: aiohttp.ClientSession, app: dict[str, Any], conn: asyncpg.Connection, library: LocalActor,
    museum: LocalActor,
) -> None:
    await make_staff(conn, "curator", {"library": "viewer", "museum": "admin"})
    _, _, form = await open_authorize(session, server, response_type="code", client_id=app["client_id"],
                                      redirect_uri=OOB, scope="read")
    assert form is not None
    _, text, _, choice = await submit(session, server, form, form.values(username="curator", password=PASSWORD))
    assert choice is not None and choice.action == "/oauth/department"
    assert sorted(choice.radios["department"]) == sorted([str(library.id), str(museum.id)])
    status, text, _, again = await submit(session, server, choice, choice.values(department="999999"))
    assert status == 400 and again is not None and again.action == "/oauth/department"


# CSRF and tickets


async def test_login_without_the_csrf_cookie_or_token_is_refused(
    server: str, app: dict[str, Any], clerk: Staff, session: aiohttp.ClientSession
) -> None:
    _, _, form = await open_authorize(session, server, response_type="code", client_id=app["client_id"],
                                      redirect_uri=OOB, scope="read")
    assert form is not None
    values = form.values(username="clerk", password=PASSWORD)
    async with browser() as stranger:  # another browser: no cookie
        status, text, _, _ = await submit(stranger, server, form, values)
        assert status == 403 and "start again" in text
    status, text, _, _ = await submit(session, server, form, {**values, "csrf_token": "forged"})
    assert status == 403


async def test_a_ticket_works_only_unaltered_and_in_its_own_browser(
    server: str, app: dict[str, Any], clerk: Staff, session: aiohttp.ClientSession, conn: asyncpg.Connection
) -> None:
    _, _, form = await open_authorize(session, server, response_type="code", client_id=app["client_id"],
                                      redirect_uri=OOB, scope="read")
    assert form is not None
    _, _, _, consent = await submit(session, server, form, form.values(username="clerk", password=PASSWORD))
    assert consent is not None
    body, _, mac = consent.fields["ticket"].partition(".")
    tampered = {**consent.values(button="approve"), "ticket": f"A{body}.{mac}"}
    status, _, _, _ = await submit(session, server, consent, tampered)
    assert status == 403
    async with browser() as other:
        _, _, other_form = await open_authorize(other, server, response_type="code", client_id=app["client_id"],
                                                redirect_uri=OOB, scope="read")
        assert other_form is not None
        stolen = {**consent.values(button="approve"), "csrf_token": other_form.fields["csrf_token"]}
        status, _, _, _ = await submit(other, server, consent, stolen)
        assert status == 403
    assert await conn.fetchval("SELECT count(*) FROM oauth_grants") == 0


# Login rate limits


async def test_five_failures_from_one_address_pause_logins(
    server: str, app: dict[str, Any], clerk: Staff, session: aiohttp.ClientSession
) -> None:
    for _ in range(5):
        outcome = await authorize(session, server, app["client_id"], "clerk", "wrong password!")
        assert outcome.status == 200
    outcome = await authorize(session, server, app["client_id"], "clerk", PASSWORD)
    assert outcome.status == 429 and "Too many attempts" in outcome.text
    _, _, form = await open_authorize(session, server, response_type="code", client_id=app["client_id"],
                                      redirect_uri=OOB, scope="read")
    assert form is not None
    async with session.post(f"{server}/oauth/login", data=form.values(username="clerk", password=PASSWORD)) as response:
        assert response.status == 429
        assert 1 <= int(response.headers["Retry-After"]) <= 300


async def test_ten_failures_for_one_username_pause_its_logins_from_anywhere(
    server: str, app: dict[str, Any], clerk: Staff, session: aiohttp.ClientSession
) -> None:
    _, _, form = await open_authorize(session, server, response_type="code", client_id=app["client_id"],
                                      redirect_uri=OOB, scope="read")
    assert form is not None
    for n in range(10):
        status, _, _, _ = await submit(session, server, form, form.values(username="clerk", password="wrong password!"),
                                       headers={"X-Forwarded-For": f"192.0.2.{n}"})
        assert status == 200
    status, text, _, _ = await submit(session, server, form, form.values(username="clerk", password=PASSWORD),
                                      headers={"X-Forwarded-For": "198.51.100.7"})
    assert status == 429 and "for this username" in text
    status, _, _, _ = await submit(session, server, form, form.values(username="someone", password=PASSWORD),
                                   headers={"X-Forwarded-For": "198.51.100.7"})
    assert status == 200


# The token endpoint


async def _code(server: str, app: dict[str, Any], **extra: str) -> str:
    async with browser() as session:
        return (await authorize(session, server, app["client_id"], "clerk", PASSWORD, **extra)).code


async def test_a_code_is_redeemed_once(server: str, http: aiohttp.ClientSession, app: dict[str, Any], clerk: Staff) -> None:
    code = await _code(server, app)
    status, _ = await exchange(http, server, app, grant_type="authorization_code", code=code, redirect_uri=OOB)
    assert status == 200
    status, error = await exchange(http, server, app, grant_type="authorization_code", code=code, redirect_uri=OOB)
    assert status == 400 and error["error"] == "invalid_grant"
    assert "already used" in error["error_description"]


async def test_an_expired_code_is_invalid(
    server: str, http: aiohttp.ClientSession, app: dict[str, Any], clerk: Staff, conn: asyncpg.Connection
) -> None:
    code = await _code(server, app)
    await conn.execute("UPDATE oauth_grants SET expires_at = now() - interval '1 second'")
    status, error = await exchange(http, server, app, grant_type="authorization_code", code=code, redirect_uri=OOB)
    assert status == 400 and error["error"] == "invalid_grant" and "expired" in error["error_description"]


async def test_a_code_needs_its_own_redirect_uri_and_client(
    server: str, http: aiohttp.ClientSession, app: dict[str, Any], clerk: Staff
) -> None:
    code = await _code(server, app)
    status, error = await exchange(http, server, app, grant_type="authorization_code", code=code, redirect_uri=CALLBACK)
    assert status == 400 and error["error"] == "invalid_grant"
    other = await register_app(http, server)
    status, error = await exchange(http, server, other, grant_type="authorization_code", code=code, redirect_uri=OOB)
    assert status == 400 and error["error"] == "invalid_grant"
    status, _ = await exchange(http, server, app, grant_type="authorization_code", code=code, redirect_uri=OOB)
    assert status == 200


async def test_pkce_s256(server: str, http: aiohttp.ClientSession, app: dict[str, Any], clerk: Staff) -> None:
    pkce = {"code_challenge": s256_challenge(VERIFIER), "code_challenge_method": "S256"}
    code = await _code(server, app, **pkce)
    for wrong in ({}, {"code_verifier": VERIFIER[:-1] + "x"}, {"code_verifier": "short"}):
        status, error = await exchange(http, server, app, grant_type="authorization_code", code=code,
                                       redirect_uri=OOB, **wrong)
        assert status == 400 and error["error"] == "invalid_grant", wrong
    status, token = await exchange(http, server, app, grant_type="authorization_code", code=code, redirect_uri=OOB,
                                   code_verifier=VERIFIER)
    assert status == 200 and token["access_token"]


async def test_a_verifier_without_a_challenge_is_refused(
    server: str, http: aiohttp.ClientSession, app: dict[str, Any], clerk: Staff
) -> None:
    code = await _code(server, app)
    status, error = await exchange(http, server, app, grant_type="authorization_code", code=code, redirect_uri=OOB,
                                   code_verifier=VERIFIER)
    assert status == 400 and error["error"] == "invalid_grant"


@pytest.mark.parametrize("credentials", [{"client_secret": "wrong"}, {"client_id": "nobody"}, {"client_secret": ""}])
async def test_bad_client_credentials_are_invalid_client(
    server: str, http: aiohttp.ClientSession, app: dict[str, Any], credentials: dict[str, str]
) -> None:
    data = {"client_id": app["client_id"], "client_secret": app["client_secret"], "grant_type": "client_credentials",
            **credentials}
    async with http.post(f"{server}/oauth/token", data=data) as response:
        assert response.status == 401
        assert (await response.json())["error"] == "invalid_client"


async def test_basic_client_authentication(server: str, http: aiohttp.ClientSession, app: dict[str, Any]) -> None:
    basic = base64.b64encode(f"{app['client_id']}:{app['client_secret']}".encode()).decode()
    headers = {"Authorization": f"Basic {basic}"}
    async with http.post(f"{server}/oauth/token", data={"grant_type": "client_credentials"}, headers=headers) as response:
        assert response.status == 200
        assert (await response.json())["scope"] == "read"


async def test_client_credentials_scopes_and_limits(server: str, http: aiohttp.ClientSession, app: dict[str, Any]) -> None:
    status, token = await exchange(http, server, app, grant_type="client_credentials", scope="read write")
    assert status == 200 and token["scope"] == "read write"
    status, error = await exchange(http, server, app, grant_type="client_credentials", scope="read admin:read")
    assert status == 400 and error["error"] == "invalid_scope"
    narrow = await register_app(http, server, scopes="read:accounts")
    status, error = await exchange(http, server, narrow, grant_type="client_credentials", scope="read")
    assert status == 400 and error["error"] == "invalid_scope"
    status, account = await verify(http, server, token["access_token"])
    assert status == 422 and account == {"error": "This method requires an authenticated user"}


@pytest.mark.parametrize(("fields", "error"), [({"grant_type": "password"}, "unsupported_grant_type"), ({}, "invalid_request")])
async def test_unknown_grant_types(
    server: str, http: aiohttp.ClientSession, app: dict[str, Any], fields: dict[str, str], error: str
) -> None:
    status, answer = await exchange(http, server, app, **fields)
    assert status == 400 and answer["error"] == error


async def test_refreshing_replaces_the_token(
    server: str, http: aiohttp.ClientSession, app: dict[str, Any], clerk: Staff
) -> None:
    status, first = await exchange(http, server, app, grant_type="authorization_code", code=await _code(server, app),
                                   redirect_uri=OOB)
    status, wider = await exchange(http, server, app, grant_type="refresh_token", refresh_token=first["refresh_token"],
                                   scope="read write push")
    assert status == 400 and wider["error"] == "invalid_scope"
    status, second = await exchange(http, server, app, grant_type="refresh_token", refresh_token=first["refresh_token"],
                                    scope="read")
    assert status == 200 and second["scope"] == "read" and second["refresh_token"] != first["refresh_token"]
    assert (await verify(http, server, first["access_token"]))[0] == 401
    assert (await verify(http, server, second["access_token"]))[0] == 200
    status, again = await exchange(http, server, app, grant_type="refresh_token", refresh_token=first["refresh_token"])
    assert status == 400 and again["error"] == "invalid_grant"


async def test_leaving_the_department_ends_tokens_and_refreshes(
    server: str, http: aiohttp.ClientSession, app: dict[str, Any], clerk: Staff, conn: asyncpg.Connection
) -> None:
    status, token = await exchange(http, server, app, grant_type="authorization_code", code=await _code(server, app),
                                   redirect_uri=OOB)
    await revoke_membership(conn, "clerk", "library")
    assert (await verify(http, server, token["access_token"]))[0] == 401
    status, error = await exchange(http, server, app, grant_type="refresh_token", refresh_token=token["refresh_token"])
    assert status == 400 and error["error"] == "invalid_grant"


async def test_revoking_tokens(server: str, http: aiohttp.ClientSession, app: dict[str, Any], clerk: Staff, login: Login) -> None:
    token = await login()
    other = await register_app(http, server)
    data = {"client_id": other["client_id"], "client_secret": other["client_secret"], "token": token}
    async with http.post(f"{server}/oauth/revoke", data=data) as response:
        assert response.status == 403
        assert (await response.json())["error"] == "unauthorized_client"
    assert (await verify(http, server, token))[0] == 200
    data = {"client_id": app["client_id"], "client_secret": app["client_secret"], "token": token}
    for _ in range(2):  # idempotent
        async with http.post(f"{server}/oauth/revoke", data=data) as response:
            assert response.status == 200
            assert await response.json() == {}
    assert (await verify(http, server, token))[0] == 401
    async with http.post(f"{server}/oauth/revoke", data={**data, "token": "never issued"}) as response:
        assert response.status == 200


async def test_authorization_server_metadata(server: str, http: aiohttp.ClientSession) -> None:
    async with http.get(f"{server}/.well-known/oauth-authorization-server") as response:
        assert response.status == 200
        metadata = await response.json()
    assert metadata["issuer"] == f"{server}/"
    assert metadata["authorization_endpoint"] == f"{server}/oauth/authorize"
    assert metadata["token_endpoint"] == f"{server}/oauth/token"
    assert metadata["revocation_endpoint"] == f"{server}/oauth/revoke"
    assert metadata["app_registration_endpoint"] == f"{server}/api/v1/apps"
    assert metadata["code_challenge_methods_supported"] == ["S256"]
    assert metadata["response_types_supported"] == ["code"]
    assert set(metadata["grant_types_supported"]) == {"authorization_code", "client_credentials", "refresh_token"}
    assert metadata["scopes_supported"][:5] == ["read", "write", "follow", "push", "profile"]
    assert "write:statuses" in metadata["scopes_supported"]


async def test_a_tokens_last_use_is_written_at_most_once_a_minute(
    server: str, http: aiohttp.ClientSession, conn: asyncpg.Connection, clerk: Staff, library: LocalActor
) -> None:
    token = await issue_token(conn, scopes="read", staff_id=clerk.id, actor_id=library.id)

    async def last_used() -> Any:
        return await conn.fetchval("SELECT last_used_at FROM oauth_tokens WHERE id = $1", token.id)

    async def verify(expected: int = 200) -> None:
        async with http.get(f"{server}/api/v1/accounts/verify_credentials", headers=bearer(token.access_token)) as response:
            assert response.status == expected, await response.text()

    assert await last_used() is None
    await verify()
    first = await last_used()
    assert first is not None
    await verify()
    assert await last_used() == first  # used again within the minute: nothing written
    await conn.execute("UPDATE oauth_tokens SET last_used_at = now() - interval '2 minutes' WHERE id = $1", token.id)
    stale = await last_used()
    await verify()
    assert await last_used() > stale
    await conn.execute("UPDATE oauth_tokens SET last_used_at = NULL, revoked_at = now() WHERE id = $1", token.id)
    await verify(401)
    assert await last_used() is None  # a revoked token's use is not recorded
