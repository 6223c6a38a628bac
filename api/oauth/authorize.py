"""``/oauth/authorize``: log in, choose the department (when there are several), consent, get a code.

``GET /oauth/authorize`` shows the login form; ``POST /oauth/login`` checks the password (rate
limited, every attempt recorded) and shows the department choice or, for a single membership, the
consent page; ``POST /oauth/department`` records the choice; ``POST /oauth/authorize`` approves
(a code, valid ten minutes, sent to the redirect URI or shown) or denies (``error=access_denied``).
"""

from __future__ import annotations

from datetime import timedelta

import asyncpg
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from actors import login_queries
from actors.login_throttle import login_refusal, record_attempt
from actors.passwords import hash_password, needs_rehash, verify_password
from actors.queries import Membership, memberships
from api.oauth import queries
from api.oauth.authorization import AuthorizationRefused, check_request, redirect_location
from api.oauth.pages import PAGE_HEADERS, code_page, consent_page, department_page, login_page, message_page
from api.oauth.params import Params, body_params, query_params
from api.oauth.queries import Application
from api.oauth.registration import OOB
from api.oauth.tickets import CSRF_COOKIE, Ticket, csrf_matches, csrf_value, new_ticket, seal, set_csrf_cookie, unseal
from api.tokens import hash_secret, new_secret

CODE_LIFETIME = timedelta(minutes=10)
BAD_LOGIN = "Wrong username or password."


def _refused(exc: AuthorizationRefused) -> Response:
    if exc.shown_on_page:
        return message_page("Authorization failed", exc.detail, 400)
    return RedirectResponse(exc.location(), 302, headers=PAGE_HEADERS)


def _expired() -> Response:
    return message_page("Please start again", "This form expired or was opened in another browser. "
                        "Go back to the application and sign in again.", 403)


async def authorize_page(request: Request) -> Response:
    """The login form for a valid authorization request."""
    async with request.state.pool.acquire() as conn:
        try:
            auth_request, app = await check_request(conn, query_params(request))
        except AuthorizationRefused as exc:
            return _refused(exc)
    csrf = csrf_value(request)
    response = login_page(app, auth_request, csrf, request.state.settings.domain)
    set_csrf_cookie(request, response, csrf)
    return response


def _next_page(request: Request, app: Application, ticket: Ticket, choices: list[Membership], csrf: str) -> Response:
    """The consent page once the department is known, else the department choice."""
    domain = request.state.settings.domain
    sealed = seal(request.state.settings.secret_key, ticket)
    chosen = [m for m in choices if m.actor_id == ticket.actor_id]
    if chosen:
        return consent_page(app, sealed, csrf, domain, chosen[0], ticket.request.scope)
    return department_page(app, sealed, csrf, domain, choices[0].staff_username, choices)


async def login(request: Request) -> Response:
    """Check the staff member's password, then continue to the department choice or the consent page."""
    form = await body_params(request)
    if not csrf_matches(request, form.get("csrf_token")):
        return _expired()
    csrf = str(form["csrf_token"])
    username = str(form.get("username") or "").strip()
    password = str(form.get("password") or "")
    address = request.client.host if request.client else "unknown"
    domain = request.state.settings.domain
    async with request.state.pool.acquire() as conn:
        try:
            auth_request, app = await check_request(conn, form)
        except AuthorizationRefused as exc:
            return _refused(exc)
        refusal = await login_refusal(conn, address, username)
        if refusal is not None:
            return message_page("Too many attempts", f"Sign-in is paused: {refusal.reason}. Try again in "
                                f"{refusal.retry_after} seconds.", 429, {"Retry-After": str(refusal.retry_after)})
        staff = await login_queries.staff_login(conn, username) if username else None
        ok = await run_in_threadpool(verify_password, staff.password_hash if staff else None, password)
        await record_attempt(conn, address, username, ok)
        if not ok or staff is None:
            return login_page(app, auth_request, csrf, domain, error=BAD_LOGIN, username=username)
        await _rehash(conn, staff, password)
        choices = await memberships(conn, staff_id=staff.id)
    if not choices:
        return message_page("No department", f"{staff.username} is not a member of any department.", 403)
    ticket = new_ticket(auth_request, staff.id, choices[0].actor_id if len(choices) == 1 else None, csrf)
    return _next_page(request, app, ticket, choices, csrf)


async def _rehash(conn: asyncpg.Connection, staff: login_queries.StaffLogin, password: str) -> None:
    if staff.password_hash is not None and needs_rehash(staff.password_hash):
        await login_queries.set_password_hash(conn, staff.id, await run_in_threadpool(hash_password, password))


async def _ticket_and_app(request: Request, form: Params) -> tuple[Ticket, Application, list[Membership]] | None:
    """The form's ticket, its application and the staff member's memberships; None if any is gone."""
    if not csrf_matches(request, form.get("csrf_token")):
        return None
    ticket = unseal(request.state.settings.secret_key, form.get("ticket"), request.cookies.get(CSRF_COOKIE))
    if ticket is None:
        return None
    async with request.state.pool.acquire() as conn:
        app = await queries.application_by_client_id(conn, ticket.request.client_id)
        choices = await memberships(conn, staff_id=ticket.staff_id)
    if app is None or ticket.request.redirect_uri not in app.redirect_uris or not choices:
        return None
    return ticket, app, choices


async def choose_department(request: Request) -> Response:
    """Record the department chosen and show the consent page."""
    form = await body_params(request)
    found = await _ticket_and_app(request, form)
    if found is None:
        return _expired()
    ticket, app, choices = found
    csrf = str(form["csrf_token"])
    chosen = str(form.get("department") or "")
    if not any(str(m.actor_id) == chosen for m in choices):
        domain = request.state.settings.domain
        sealed = seal(request.state.settings.secret_key, ticket)
        staff_username = choices[0].staff_username
        return department_page(app, sealed, csrf, domain, staff_username, choices, "Choose one of your departments.")
    return _next_page(request, app, ticket.with_department(int(chosen)), choices, csrf)


async def decide(request: Request) -> Response:
    """Approve (issue a code) or deny the authorization."""
    form = await body_params(request)
    found = await _ticket_and_app(request, form)
    if found is None:
        return _expired()
    ticket, app, choices = found
    req = ticket.request
    if ticket.actor_id is None or not any(m.actor_id == ticket.actor_id for m in choices):
        return _expired()
    if form.get("decision") != "approve":
        denied = AuthorizationRefused("access_denied", "You denied the authorization.", req.redirect_uri, req.state)
        return _refused(denied)
    code = new_secret()
    async with request.state.pool.acquire() as conn:
        await queries.insert_grant(
            conn, hash_secret(code), app.id, ticket.staff_id, ticket.actor_id, req.redirect_uri, req.scope,
            req.code_challenge, req.code_challenge_method, CODE_LIFETIME,
        )
    if req.redirect_uri == OOB:
        return code_page(app, code)
    location = redirect_location(req.redirect_uri, {"code": code, "state": req.state})
    return RedirectResponse(location, 302, headers=PAGE_HEADERS)
