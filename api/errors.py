"""The client API's errors: each carries its HTTP status and becomes Mastodon's ``{"error": ...}``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fedi.errors import FediError

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response


class ApiError(FediError):
    """An error answered to an API client with ``status`` and ``{"error": message}``."""

    status = 400

    def __init__(self, message: str, status: int | None = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status or self.status
        self.headers = headers or {}


class Unauthorized(ApiError):
    """No valid token (401)."""

    status = 401


class Forbidden(ApiError):
    """A valid token that may not do this (403)."""

    status = 403


class NotFoundError(ApiError):
    """No such record (404)."""

    status = 404


class Unprocessable(ApiError):
    """Validation failed (422)."""

    status = 422


class TooManyRequests(ApiError):
    """Rate limited (429)."""

    status = 429


async def api_error_response(request: Request, exc: Exception) -> Response:
    """The exception handler the app installs for ApiError."""
    from fedi.responses import error_response  # here: the worker raises ApiError but answers no requests

    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.message, exc.headers)
