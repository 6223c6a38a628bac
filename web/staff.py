"""The staff view: log in, choose the department, and answer its citizens' replies, oldest first.

Staff log in with the same name and password as on the OAuth page (rate limited the same way, every
attempt recorded). Editors and admins answer through ``outbox.posts.publish_post``, as the client
API does: the department's signature setting applies and the audit log records the answer. Viewers
see the list without reply boxes.
"""

from __future__ import annotations

from typing import Any

from markupsafe import Markup
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from actors import login_queries
from actors.errors import NotFound, ValidationError
from actors.login_throttle import login_refusal, record_attempt
from actors.passwords import hash_password, needs_rehash, verify_password
from actors.queries import Membership, memberships
from actors.remote_queries import actor_by_id
from fedi.html import sanitize_html
from fedi.templating import render_page
from outbox.audit import record
from outbox.posts import publish_post
from outbox.signatures import signature_line, signed
from web import staff_queries
from web.site import request_site
from web.staff_session import (
    Session, clear_session, csrf_matches, csrf_value, new_session, request_session, set_csrf, set_session,
)

WRITERS = ("editor", "admin")
BAD_LOGIN = "Wrong username or password."
NO_STORE = {"Cache-Control": "no-store"}


def _page(request: Request, template: str, status: int = 200, headers: dict[str, str] | None = None, **context: Any) -> Response:
    csrf = csrf_value(request)
    response = render_page(template, status, {**NO_STORE, **(headers or {})}, site=request_site(request), csrf=csrf, **context)
    set_csrf(request, response, csrf)
    return response


def _message(request: Request, status: int, heading: str, text: str, headers: dict[str, str] | None = None) -> Response:
    return _page(request, "web_staff_message.html", status, headers, heading=heading, text=text)


def _redirect(location: str) -> RedirectResponse:
    return RedirectResponse(location, 303, headers=NO_STORE)


async def _membership(request: Request, session: Session) -> tuple[Membership | None, list[Membership]]:
    async with request.state.pool.acquire() as conn:
        choices = await memberships(conn, staff_id=session.staff_id)
    chosen = [m for m in choices if m.actor_id == session.actor_id]
    return (chosen[0] if chosen else None), choices


async def login_form(request: Request) -> Response:
    """The login form."""
    return _page(request, "web_staff_login.html")


async def login(request: Request) -> Response:
    """Check the password, then go to the staff view (or the department choice)."""
    form = await request.form()
    if not csrf_matches(request, form.get("csrf_token")):
        return _message(request, 403, "Please try again", "This form expired. Open the login page again.")
    username = str(form.get("username") or "").strip()
    password = str(form.get("password") or "")
    address = request.client.host if request.client else "unknown"
    async with request.state.pool.acquire() as conn:
        refusal = await login_refusal(conn, address, username)
        if refusal is not None:
            return _message(request, 429, "Too many attempts", f"Sign-in is paused: {refusal.reason}. Try again in "
                            f"{refusal.retry_after} seconds.", {"Retry-After": str(refusal.retry_after)})
        staff = await login_queries.staff_login(conn, username) if username else None
        ok = await run_in_threadpool(verify_password, staff.password_hash if staff else None, password)
        await record_attempt(conn, address, username, ok)
        if not ok or staff is None:
            return _page(request, "web_staff_login.html", 200, error=BAD_LOGIN, username=username)
        if staff.password_hash is not None and needs_rehash(staff.password_hash):
            await login_queries.set_password_hash(conn, staff.id, await run_in_threadpool(hash_password, password))
        choices = await memberships(conn, staff_id=staff.id)
    if not choices:
        return _message(request, 403, "No department", f"{staff.username} is not a member of any department.")
    response = _redirect("/staff" if len(choices) == 1 else "/staff/department")
    set_session(request, response, new_session(staff.id, choices[0].actor_id if len(choices) == 1 else None))
    return response


async def department_form(request: Request) -> Response:
    """The choice of department for a staff member of several."""
    session = request_session(request)
    if session is None:
        return _redirect("/staff/login")
    _, choices = await _membership(request, session)
    return _page(request, "web_staff_department.html", choices=choices, current=session.actor_id)


async def choose_department(request: Request) -> Response:
    """Record the department chosen."""
    session = request_session(request)
    if session is None:
        return _redirect("/staff/login")
    form = await request.form()
    if not csrf_matches(request, form.get("csrf_token")):
        return _message(request, 403, "Please try again", "This form expired.")
    _, choices = await _membership(request, session)
    chosen = str(form.get("department") or "")
    if not any(str(m.actor_id) == chosen for m in choices):
        return _page(request, "web_staff_department.html", 400, choices=choices, current=session.actor_id,
                     error="Choose one of your departments.")
    response = _redirect("/staff")
    set_session(request, response, new_session(session.staff_id, int(chosen)))
    return response


async def logout(request: Request) -> Response:
    """Forget the session."""
    form = await request.form()
    if not csrf_matches(request, form.get("csrf_token")):
        return _message(request, 403, "Please try again", "This form expired.")
    response = _redirect("/staff/login")
    clear_session(request, response)
    return response


async def staff_view(request: Request) -> Response:
    """The chosen department's unanswered citizen replies, oldest first."""
    session = request_session(request)
    if session is None:
        return _redirect("/staff/login")
    membership, choices = await _membership(request, session)
    if membership is None:
        return _redirect("/staff/department" if choices else "/staff/login")
    site = request_site(request)
    async with request.state.pool.acquire() as conn:
        waiting = await staff_queries.unanswered(conn, membership.actor_id)
    replies = [
        {"post": w, "html": Markup(sanitize_html(w.content_html)),
         "thread": site.url(f"/@{membership.department}/{w.parent_id}")}
        for w in waiting
    ]
    return _page(request, "web_staff_view.html", membership=membership, replies=replies,
                 can_reply=membership.role in WRITERS, several=len(choices) > 1,
                 answered=request.query_params.get("answered") == "1")


async def reply(request: Request) -> Response:
    """Publish the department's answer to a citizen's reply, then go back to the list."""
    session = request_session(request)
    if session is None:
        return _redirect("/staff/login")
    form = await request.form()
    if not csrf_matches(request, form.get("csrf_token")):
        return _message(request, 403, "Please try again", "This form expired.")
    membership, _ = await _membership(request, session)
    if membership is None or membership.role not in WRITERS:
        return _message(request, 403, "Not allowed", "Only editors and admins answer for the department.")
    text = str(form.get("text") or "")
    post_id = str(form.get("post_id") or "")
    if not text.strip() or not post_id.isdigit():
        return _message(request, 400, "Nothing to send", "Write an answer to a reply from the list.")
    settings = request.state.settings
    async with request.state.pool.acquire() as conn, conn.transaction():
        target = await staff_queries.unanswered_reply(conn, membership.actor_id, int(post_id))
        department = await actor_by_id(conn, membership.actor_id)
        if target is None or department is None or department.deleted_at is not None:
            return _message(request, 404, "Reply not found", "This reply was answered or removed meanwhile.")
        text = signed(text, await signature_line(conn, membership.actor_id, session.staff_id))
        try:
            post = await publish_post(
                conn, request.state.resolver, settings, department, text, staff_id=session.staff_id,
                visibility=target.visibility, in_reply_to=target.uri,
            )
        except (ValidationError, NotFound) as exc:
            return _message(request, 422, "Not sent", str(exc))
        await record(conn, session.staff_id, membership.actor_id, "post", post.id)
    return _redirect("/staff?answered=1")
