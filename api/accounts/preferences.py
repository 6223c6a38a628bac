"""Settings fedi has as fixed facts rather than per-account choices: preferences, filters, custom emojis.

Posts are public unless a post says otherwise, not marked sensitive, and carry the language their
author gives; fedi has no filters and no custom emojis. These answers are those facts, not placeholders.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from api.accounts.entities import DEFAULT_PRIVACY, DEFAULT_SENSITIVE
from api.auth import authenticate
from fedi.responses import JSONResponse

PREFERENCES = {
    "posting:default:visibility": DEFAULT_PRIVACY,
    "posting:default:sensitive": DEFAULT_SENSITIVE,
    "posting:default:language": None,
    "reading:expand:media": "default",
    "reading:expand:spoilers": False,
}


async def preferences(request: Request) -> Response:
    """Mastodon's Preferences entity (the same for every department)."""
    await authenticate(request, "read:accounts")
    return JSONResponse(PREFERENCES)


async def filters(request: Request) -> Response:
    """The department's filters (v1 and v2): fedi has none."""
    await authenticate(request, "read:filters")
    return JSONResponse([])


async def custom_emojis(request: Request) -> Response:
    """The server's custom emojis: fedi has none."""
    return JSONResponse([])
