"""Media uploads: ``POST /api/v2/media`` (and v1), ``GET``/``PUT /api/v1/media/:id``, and ``GET /media/<name>``.

Images only (PNG, JPEG, GIF, WebP, told by their bytes), at most 10 MB, stored under
``<data dir>/media/`` with a random name and served from ``/media/<name>`` with their content type.
An upload belongs to the department; it becomes a post's attachment when a status names it in
``media_ids``. The description is the alt text, sent with the post as the ``Document``'s ``name``.
"""

from __future__ import annotations

import asyncio
import re
import secrets
from pathlib import Path

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from api.errors import ApiError, NotFoundError, Unprocessable
from api.statuses import media_queries
from api.statuses.access import NOT_FOUND, editor, path_id
from api.statuses.images import CONTENT_TYPES, identify
from api.statuses.media_queries import NewMedia
from api.statuses.params import all_params, focus_param, text_param
from api.statuses.entities import render_media
from fedi.responses import JSONResponse
from fedi.settings import Settings

MAX_BYTES = 10 * 1024 * 1024
FORM_OVERHEAD = 64 * 1024
MAX_DESCRIPTION = 1500
FILE_NAME_RE = re.compile(r"^[0-9a-f]{32}\.(png|jpg|gif|webp)$")
SERVED_HEADERS = {
    "Cache-Control": "public, max-age=31536000, immutable",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
}


def media_dir(settings: Settings) -> Path:
    """Where uploads are kept."""
    return settings.data_dir / "media"


def _store(directory: Path, name: str, data: bytes) -> None:
    """Write a file whole or not at all (under a temporary name, then renamed)."""
    directory.mkdir(parents=True, exist_ok=True)
    partial = directory / f".{name}.partial"
    partial.write_bytes(data)
    partial.replace(directory / name)


def _description(value: str | None) -> str | None:
    text = (value or "").strip()
    if len(text) > MAX_DESCRIPTION:
        raise Unprocessable(f"Validation failed: Description is too long (maximum is {MAX_DESCRIPTION} characters)")
    return text or None


def _check_length(request: Request) -> None:
    length = request.headers.get("content-length")
    if length is None or not length.isdigit():
        raise ApiError("an upload needs a Content-Length", 411)
    if int(length) > MAX_BYTES + FORM_OVERHEAD:
        raise ApiError(f"the upload is larger than {MAX_BYTES // (1024 * 1024)} MB", 413)


async def upload_media(request: Request) -> Response:
    """POST /api/v2/media (multipart ``file``, ``description``, ``focus``): the MediaAttachment, at once usable."""
    auth = await editor(request, "write:media")
    assert auth.actor_id is not None
    _check_length(request)
    async with request.form(max_files=2, max_fields=20) as form:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise Unprocessable("Validation failed: File can't be blank")
        data = await upload.read(MAX_BYTES + 1)
        description, focus = form.get("description"), form.get("focus")
    if len(data) > MAX_BYTES:
        raise Unprocessable(f"Validation failed: File file size must be less than {MAX_BYTES // (1024 * 1024)} MB")
    info = identify(data)
    new = NewMedia(
        info.content_type, f"{secrets.token_hex(16)}.{info.extension}", len(data), info.width, info.height,
        _description(description if isinstance(description, str) else None),
        focus_param(focus if isinstance(focus, str) else None),
    )
    settings = request.state.settings
    await asyncio.to_thread(_store, media_dir(settings), new.file_name, data)
    stored = False
    try:
        async with request.state.pool.acquire() as conn:
            record = await media_queries.insert_media(conn, auth.actor_id, auth.staff_id, new)
        stored = True
    finally:
        if not stored:
            (media_dir(settings) / new.file_name).unlink(missing_ok=True)
    return JSONResponse(render_media(record, settings))


async def show_media(request: Request) -> Response:
    """GET /api/v1/media/:id: one of the department's uploads."""
    auth = await editor(request, "write:media")
    assert auth.actor_id is not None
    async with request.state.pool.acquire() as conn:
        record = await media_queries.media_of(conn, path_id(request), auth.actor_id)
    if record is None:
        raise NotFoundError(NOT_FOUND)
    return JSONResponse(render_media(record, request.state.settings))


async def update_media(request: Request) -> Response:
    """PUT /api/v1/media/:id: change the alt text (``description``) or focal point (``focus``)."""
    auth = await editor(request, "write:media")
    assert auth.actor_id is not None
    params = await all_params(request)
    async with request.state.pool.acquire() as conn:
        record = await media_queries.media_of(conn, path_id(request), auth.actor_id)
        if record is None:
            raise NotFoundError(NOT_FOUND)
        description = _description(text_param(params, "description")) if "description" in params else record.description
        focus = focus_param(text_param(params, "focus")) if "focus" in params else (
            None if record.focus_x is None or record.focus_y is None else (record.focus_x, record.focus_y)
        )
        record = await media_queries.describe_media(conn, record.id, description, focus)
    return JSONResponse(render_media(record, request.state.settings))


async def media_file(request: Request) -> Response:
    """GET /media/<name>: an uploaded file, with its content type."""
    name = request.path_params["name"]
    path = media_dir(request.state.settings) / name
    if not FILE_NAME_RE.match(name) or not path.is_file():
        raise NotFoundError(NOT_FOUND)
    return FileResponse(path, media_type=CONTENT_TYPES[name.rsplit(".", 1)[1]], headers=SERVED_HEADERS)


routes = [
    Route("/api/v2/media", upload_media, methods=["POST"]),
    Route("/api/v1/media", upload_media, methods=["POST"]),
    Route("/api/v1/media/{id}", show_media, methods=["GET"]),
    Route("/api/v1/media/{id}", update_media, methods=["PUT"]),
    Route("/media/{name}", media_file, methods=["GET", "HEAD"]),
]
