"""OAuth 2 errors (RFC 6749 §5.2): ``{"error": code, "error_description": text}`` with their status."""

from __future__ import annotations

from fedi.errors import FediError
from fedi.responses import JSONResponse

# The descriptions Mastodon (Doorkeeper) sends for each code.
DESCRIPTIONS = {
    "invalid_request": "The request is missing a required parameter, includes an unsupported parameter value, "
    "or is otherwise malformed.",
    "invalid_client": "Client authentication failed due to unknown client, no client authentication included, "
    "or unsupported authentication method.",
    "invalid_grant": "The provided authorization grant is invalid, expired, revoked, does not match the redirection "
    "URI used in the authorization request, or was issued to another client.",
    "unauthorized_client": "You are not authorized to revoke this token",
    "unsupported_grant_type": "The authorization grant type is not supported by the authorization server.",
    "unsupported_response_type": "The authorization server does not support this response type.",
    "invalid_scope": "The requested scope is invalid, unknown, or malformed.",
    "access_denied": "The resource owner or authorization server denied the request.",
}
STATUSES = {"invalid_client": 401, "unauthorized_client": 403}
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class OAuthError(FediError):
    """An OAuth error answered as RFC 6749 describes; ``detail`` says what exactly was wrong."""

    def __init__(self, code: str, detail: str | None = None) -> None:
        super().__init__(detail or DESCRIPTIONS[code])
        self.code = code
        self.detail = detail

    @property
    def status(self) -> int:
        """401 for client authentication, 403 for a foreign token, else 400."""
        return STATUSES.get(self.code, 400)

    @property
    def description(self) -> str:
        """Mastodon's description of the code, followed by the precise reason when there is one."""
        text = DESCRIPTIONS[self.code]
        return f"{text} ({self.detail})" if self.detail else text

    def response(self) -> JSONResponse:
        """The JSON error response (never cached)."""
        headers = dict(NO_STORE)
        if self.code == "invalid_client":
            headers["WWW-Authenticate"] = 'Basic realm="fedi"'
        return JSONResponse({"error": self.code, "error_description": self.description}, self.status, headers=headers)
