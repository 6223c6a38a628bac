"""The authorization forms' state and CSRF protection, without server-side sessions.

Every form carries the value of the ``fedi_oauth_csrf`` cookie (double submit): a page from another
site can make the browser send the cookie but cannot read it to fill the field. After the login, the
forms also carry a ticket: the validated request, the staff member and (once chosen) the department,
an expiry, and the hash of that CSRF cookie, signed with a key derived from the server's secret. A
ticket therefore works only in the browser that logged in, for fifteen minutes, and cannot be altered.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from dataclasses import asdict, dataclass, replace

from starlette.requests import Request
from starlette.responses import Response

from api.oauth.authorization import AuthorizationRequest, request_from_fields
from api.tokens import hash_secret, new_secret

CSRF_COOKIE = "fedi_oauth_csrf"
CSRF_MAX_AGE = 3600
TICKET_LIFETIME = 15 * 60
_KEY_LABEL = b"fedi oauth ticket v1"


@dataclass(frozen=True)
class Ticket:
    """An authorization in progress, after the staff member has logged in."""

    request: AuthorizationRequest
    staff_id: int
    actor_id: int | None
    csrf_hash: str
    expires: int

    def with_department(self, actor_id: int) -> Ticket:
        """The same ticket with the department chosen."""
        return replace(self, actor_id=actor_id)


def new_ticket(request: AuthorizationRequest, staff_id: int, actor_id: int | None, csrf_value: str) -> Ticket:
    """A ticket for a staff member who has just logged in, bound to the browser's CSRF cookie."""
    return Ticket(request, staff_id, actor_id, hash_secret(csrf_value), int(time.time()) + TICKET_LIFETIME)


def _key(secret_key: str) -> bytes:
    return hmac.new(secret_key.encode(), _KEY_LABEL, hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def seal(secret_key: str, ticket: Ticket) -> str:
    """The ticket as a signed string for a hidden form field."""
    body = _b64(json.dumps(asdict(ticket), separators=(",", ":")).encode())
    return f"{body}.{_b64(hmac.new(_key(secret_key), body.encode(), hashlib.sha256).digest())}"


def unseal(secret_key: str, sealed: object, csrf_value: str | None) -> Ticket | None:
    """The ticket if the signature holds, it has not expired and it belongs to this browser's cookie."""
    if not isinstance(sealed, str) or csrf_value is None:
        return None
    body, _, mac = sealed.partition(".")
    expected = _b64(hmac.new(_key(secret_key), body.encode(), hashlib.sha256).digest())
    if not hmac.compare_digest(mac, expected):
        return None
    try:
        data = json.loads(_unb64(body))
    except (binascii.Error, ValueError):
        return None
    ticket = Ticket(
        request_from_fields(data["request"]), data["staff_id"], data["actor_id"], data["csrf_hash"], data["expires"]
    )
    if ticket.expires < time.time() or not hmac.compare_digest(ticket.csrf_hash, hash_secret(csrf_value)):
        return None
    return ticket


def csrf_value(request: Request) -> str:
    """This browser's CSRF value, or a new one (the page showing the first form sets it as a cookie)."""
    return request.cookies.get(CSRF_COOKIE) or new_secret()


def csrf_matches(request: Request, submitted: object) -> bool:
    """Whether the form's ``csrf_token`` equals the cookie."""
    cookie = request.cookies.get(CSRF_COOKIE)
    return bool(cookie) and isinstance(submitted, str) and hmac.compare_digest(cookie or "", submitted)


def set_csrf_cookie(request: Request, response: Response, value: str) -> None:
    """Give the browser its CSRF cookie for another hour (``Secure`` when the page came over HTTPS)."""
    response.set_cookie(
        CSRF_COOKIE, value, max_age=CSRF_MAX_AGE, path="/oauth", httponly=True, samesite="lax",
        secure=request.url.scheme == "https",
    )
