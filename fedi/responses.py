"""Responses shared by every route: ActivityPub JSON, JRD, errors, and content negotiation.

Bodies are compact UTF-8 JSON written by orjson (a 64 KiB timeline page in a tenth of the time the
standard library takes, the same bytes).
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

ACTIVITY_JSON = "application/activity+json"
LD_JSON_PROFILE = 'application/ld+json; profile="https://www.w3.org/ns/activitystreams"'
_AP_TYPES = ("application/activity+json", "application/ld+json")


def _dumps(data: Any) -> bytes:
    """Compact UTF-8 JSON."""
    return orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS)


class JSONResponse(Response):
    """JSON with an explicit content type (activity+json, jrd+json, nodeinfo profiles…)."""

    def __init__(self, content: Any, status_code: int = 200, media_type: str = "application/json",
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(_dumps(content), status_code, headers, media_type)


def activity_response(request: Request, document: Any, status_code: int = 200) -> JSONResponse:
    """An ActivityPub document in the flavour of JSON the client asked for."""
    accept = request.headers.get("accept", "").lower()
    ld_only = "application/ld+json" in accept and ACTIVITY_JSON not in accept
    media_type = LD_JSON_PROFILE if ld_only else f"{ACTIVITY_JSON}; charset=utf-8"
    return JSONResponse(document, status_code, media_type, headers={"Vary": "Accept"})


def error_response(status_code: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """The error shape every fedi endpoint uses: ``{"error": message}``."""
    return JSONResponse({"error": message}, status_code, headers=headers)


def wants_activity_json(request: Request) -> bool:
    """True when the Accept header asks for an ActivityPub document rather than a page."""
    accept = request.headers.get("accept", "").lower()
    return any(kind in accept for kind in _AP_TYPES) or (
        "application/json" in accept and "text/html" not in accept
    )
