"""``GET /api/v1/instance`` and ``GET /api/v2/instance``: the server and its real limits.

fedi answers as Mastodon 4.3 (API version 2) does. Its limits: posts of up to 5000 characters with up
to four images (JPEG, PNG, GIF or WebP, 10 MB, 16 megapixels), no video or audio, no polls,
registrations closed (staff logins are made by administrators), no rules, no translation and no
Web Push. There is no contact account setting, so ``contact.account`` is null.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from actors.queries import count_departments
from api.accounts.entities import MISSING_HEADER_PATH
from api.accounts.queries import instance_figures
from fedi import __version__
from fedi.responses import JSONResponse
from fedi.settings import Settings
from outbox.posts import MAX_PINNED, MAX_TEXT

MASTODON_VERSION = "4.3.0"
MASTODON_API_VERSION = 2
MAX_MEDIA_ATTACHMENTS = 4
SUPPORTED_MIME_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")
IMAGE_SIZE_LIMIT = 10 * 1024 * 1024
IMAGE_MATRIX_LIMIT = 4096 * 4096
CHARACTERS_RESERVED_PER_URL = 23
ANY_ORIGIN = {"Access-Control-Allow-Origin": "*"}

CONFIGURATION: dict[str, Any] = {
    "accounts": {"max_featured_tags": 0, "max_pinned_statuses": MAX_PINNED},
    "statuses": {
        "max_characters": MAX_TEXT,
        "max_media_attachments": MAX_MEDIA_ATTACHMENTS,
        "characters_reserved_per_url": CHARACTERS_RESERVED_PER_URL,
    },
    "media_attachments": {
        "supported_mime_types": list(SUPPORTED_MIME_TYPES),
        "image_size_limit": IMAGE_SIZE_LIMIT,
        "image_matrix_limit": IMAGE_MATRIX_LIMIT,
        "video_size_limit": 0,
        "video_frame_rate_limit": 0,
        "video_matrix_limit": 0,
    },
    "polls": {"max_options": 0, "max_characters_per_option": 0, "min_expiration": 0, "max_expiration": 0},
}


def version() -> str:
    """The Mastodon API level fedi implements, then fedi's own version, as compatible servers write it."""
    return f"{MASTODON_VERSION} (compatible; fedi {__version__})"


def _title(settings: Settings) -> str:
    return settings.organisation_name or settings.domain


def _description(settings: Settings) -> str:
    return f"The fediverse accounts of the departments of {_title(settings)}."


def render_instance(settings: Settings, departments: int) -> dict[str, Any]:
    """Mastodon's Instance entity (v2)."""
    return {
        "domain": settings.domain,
        "title": _title(settings),
        "version": version(),
        "source_url": settings.base_url,
        "description": _description(settings),
        "usage": {"users": {"active_month": departments}},
        "thumbnail": {"url": f"{settings.base_url}{MISSING_HEADER_PATH}"},
        "icon": [],
        "languages": [],
        "configuration": {
            "urls": {"streaming": f"wss://{settings.domain}", "status": None},
            **CONFIGURATION,
            "translation": {"enabled": False},
        },
        "registrations": {"enabled": False, "approval_required": False, "message": None, "url": None},
        "api_versions": {"mastodon": MASTODON_API_VERSION},
        "contact": {"email": "", "account": None},
        "rules": [],
    }


def render_instance_v1(settings: Settings, departments: int, posts: int, domains: int) -> dict[str, Any]:
    """Mastodon's V1::Instance entity."""
    return {
        "uri": settings.domain,
        "title": _title(settings),
        "short_description": _description(settings),
        "description": _description(settings),
        "email": "",
        "version": version(),
        "urls": {"streaming_api": f"wss://{settings.domain}"},
        "stats": {"user_count": departments, "status_count": posts, "domain_count": domains},
        "thumbnail": f"{settings.base_url}{MISSING_HEADER_PATH}",
        "languages": [],
        "registrations": False,
        "approval_required": False,
        "invites_enabled": False,
        "configuration": CONFIGURATION,
        "contact_account": None,
        "rules": [],
    }


async def instance_v2(request: Request) -> Response:
    """The Instance entity (public)."""
    async with request.state.pool.acquire() as conn:
        departments = await count_departments(conn)
    return JSONResponse(render_instance(request.state.settings, departments), headers=ANY_ORIGIN)


async def instance_v1(request: Request) -> Response:
    """The V1::Instance entity (public)."""
    async with request.state.pool.acquire() as conn:
        departments = await count_departments(conn)
        posts, domains = await instance_figures(conn)
    document = render_instance_v1(request.state.settings, departments, posts, domains)
    return JSONResponse(document, headers=ANY_ORIGIN)
