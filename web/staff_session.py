"""The staff view's session cookie and CSRF token, without server-side sessions.

The cookie holds the staff member, the department chosen (0 until chosen) and an expiry eight hours
ahead, signed with HMAC-SHA256 under a key derived from the server's secret and checked in constant
time; both cookies are ``Secure`` when the page came over HTTPS. Forms carry the value of a separate CSRF cookie (double submit).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

SESSION_COOKIE = "fedi_staff"
CSRF_COOKIE = "fedi_staff_csrf"
LIFETIME = 8 * 3600
_KEY_LABEL = b"fedi staff session v1"


@dataclass(frozen=True)
class Session:
    """A logged-in staff member and the department they act for (None until chosen)."""

    staff_id: int
    actor_id: int | None
    expires: int


def _key(secret_key: str) -> bytes:
    return hmac.new(secret_key.encode(), _KEY_LABEL, hashlib.sha256).digest()


def _mac(secret_key: str, body: str) -> str:
    digest = hmac.new(_key(secret_key), body.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


def new_session(staff_id: int, actor_id: int | None) -> Session:
    """A session for a staff member who has just logged in."""
    return Session(staff_id, actor_id, int(time.time()) + LIFETIME)


def seal(secret_key: str, session: Session) -> str:
    """The session as a signed cookie value."""
    data = json.dumps({"s": session.staff_id, "a": session.actor_id or 0, "e": session.expires}, separators=(",", ":"))
    body = base64.urlsafe_b64encode(data.encode()).decode("ascii").rstrip("=")
    return f"{body}.{_mac(secret_key, body)}"


def unseal(secret_key: str, value: str | None) -> Session | None:
    """The session in a cookie value if its signature holds and it has not expired."""
    if not value:
        return None
    body, _, mac = value.partition(".")
    if not hmac.compare_digest(mac.encode(), _mac(secret_key, body).encode()):
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        session = Session(int(data["s"]), int(data["a"]) or None, int(data["e"]))
    except (binascii.Error, ValueError, KeyError, TypeError):
        return None
    return session if session.expires > time.time() else None


def request_session(request: Request) -> Session | None:
    """The session of the browser making ``request``."""
    return unseal(request.state.settings.secret_key, request.cookies.get(SESSION_COOKIE))


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def set_session(request: Request, response: Response, session: Session) -> None:
    """Give the browser its session cookie."""
    response.set_cookie(
        SESSION_COOKIE, seal(request.state.settings.secret_key, session), max_age=LIFETIME, path="/staff",
        httponly=True, samesite="lax", secure=_secure(request),
    )


def clear_session(request: Request, response: Response) -> None:
    """Forget the browser's session."""
    response.delete_cookie(SESSION_COOKIE, path="/staff", httponly=True, samesite="lax", secure=_secure(request))


def csrf_value(request: Request) -> str:
    """This browser's CSRF value, or a new one (set as a cookie by the page showing the form)."""
    return request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(32)


def set_csrf(request: Request, response: Response, value: str) -> None:
    """Give the browser its CSRF cookie."""
    response.set_cookie(
        CSRF_COOKIE, value, max_age=LIFETIME, path="/staff", httponly=True, samesite="lax", secure=_secure(request)
    )


def csrf_matches(request: Request, submitted: object) -> bool:
    """Whether the form's ``csrf_token`` equals the cookie."""
    cookie = request.cookies.get(CSRF_COOKIE) or ""
    return bool(cookie) and isinstance(submitted, str) and hmac.compare_digest(cookie.encode(), submitted.encode())
