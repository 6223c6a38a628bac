"""An authorization request (``GET /oauth/authorize``'s parameters), checked against its application.

An unknown client or an unregistered redirect URI is shown on a page: nothing may be sent to a URI
the application did not register. Every later problem goes back to the redirect URI as
``?error=…&state=…`` (RFC 6749 §4.1.2.1), or is shown when the URI is the out-of-band one.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import asyncpg

from api.oauth import queries
from api.oauth.errors import DESCRIPTIONS
from api.oauth.params import Params
from api.oauth.pkce import PKCE_VALUE_RE, S256
from api.oauth.queries import Application
from api.oauth.registration import OOB, ordered_scopes
from api.scopes import ScopeError, within
from fedi.errors import FediError

MAX_STATE = 2000


@dataclass(frozen=True)
class AuthorizationRequest:
    """What the client asked for, validated; carried through the login, department and consent forms."""

    client_id: str
    redirect_uri: str
    scope: str
    state: str | None = None
    code_challenge: str | None = None
    code_challenge_method: str | None = None

    def fields(self) -> dict[str, str]:
        """The request as hidden form fields (absent values left out)."""
        return {name: value for name, value in asdict(self).items() if value is not None}


class AuthorizationRefused(FediError):
    """A request that cannot go on; ``redirect_uri`` is None when the error may only be shown on a page."""

    def __init__(self, code: str, detail: str, redirect_uri: str | None = None, state: str | None = None) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.redirect_uri = redirect_uri
        self.state = state

    @property
    def shown_on_page(self) -> bool:
        """Whether the error is shown to the person rather than sent to the application."""
        return self.redirect_uri is None or self.redirect_uri == OOB

    def location(self) -> str:
        """The redirect URI with ``error``, ``error_description`` and ``state`` added."""
        assert self.redirect_uri is not None
        return redirect_location(
            self.redirect_uri, {"error": self.code, "error_description": DESCRIPTIONS[self.code], "state": self.state}
        )


def redirect_location(redirect_uri: str, values: dict[str, str | None]) -> str:
    """``redirect_uri`` with ``values`` appended to its query (None values left out)."""
    parts = urlsplit(redirect_uri)
    added = urlencode({k: v for k, v in values.items() if v is not None})
    return urlunsplit(parts._replace(query=f"{parts.query}&{added}" if parts.query else added))


def _text(params: Params, name: str) -> str | None:
    value = params.get(name)
    return value if isinstance(value, str) and value != "" else None


async def check_request(conn: asyncpg.Connection, params: Params) -> tuple[AuthorizationRequest, Application]:
    """The validated request and its application, or AuthorizationRefused."""
    client_id = _text(params, "client_id")
    app = None if client_id is None else await queries.application_by_client_id(conn, client_id)
    if app is None:
        raise AuthorizationRefused("invalid_client", "This application is unknown to the server.")
    redirect_uri = _text(params, "redirect_uri")
    if redirect_uri is None or redirect_uri not in app.redirect_uris:
        raise AuthorizationRefused("invalid_request", "The redirect URI is not one this application registered.")
    state = _text(params, "state")

    def refuse(code: str, detail: str) -> AuthorizationRefused:
        """An error sent back to the (registered) redirect URI with the client's state."""
        return AuthorizationRefused(code, detail, redirect_uri, state)

    if params.get("response_type") != "code":
        raise refuse("unsupported_response_type", "response_type must be code.")
    if state is not None and len(state) > MAX_STATE:
        raise refuse("invalid_request", f"state must have at most {MAX_STATE} characters.")
    try:
        scope = ordered_scopes(_text(params, "scope") or _text(params, "scopes"))
    except ScopeError as exc:
        raise refuse("invalid_scope", str(exc)) from None
    if not within(scope.split(), app.scopes.split()):
        raise refuse("invalid_scope", f"The application registered only these scopes: {app.scopes}.")
    challenge, method = _text(params, "code_challenge"), _text(params, "code_challenge_method")
    if challenge is not None and method != S256:
        raise refuse("invalid_request", "code_challenge_method must be S256.")
    if challenge is None and method is not None:
        raise refuse("invalid_request", "code_challenge_method was given without a code_challenge.")
    if challenge is not None and not PKCE_VALUE_RE.match(challenge):
        raise refuse("invalid_request", "code_challenge is malformed.")
    return AuthorizationRequest(client_id, redirect_uri, scope, state, challenge, method), app


def request_from_fields(data: dict[str, Any]) -> AuthorizationRequest:
    """An AuthorizationRequest rebuilt from its fields (as carried in a signed ticket)."""
    return AuthorizationRequest(**{name: data.get(name) for name in AuthorizationRequest.__dataclass_fields__})
