"""Validators and conditional GETs (RFC 9110 §13): a strong ETag of the body and Last-Modified.

``If-None-Match`` wins over ``If-Modified-Since`` when both are sent, as the RFC says; either one
matching turns the answer into a 304 without a body that keeps the validators. HTTP dates count
whole seconds, so two changes within one second are told apart by the ETag only.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from email.utils import format_datetime, parsedate_to_datetime

from starlette.requests import Request
from starlette.responses import Response


def entity_tag(body: bytes) -> str:
    """A strong entity tag naming exactly these bytes."""
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def http_date(moment: datetime) -> str:
    """An IMF-fixdate (``Sun, 06 Nov 1994 08:49:37 GMT``), to the second."""
    return format_datetime(moment.astimezone(timezone.utc).replace(microsecond=0), usegmt=True)


def _parse_http_date(value: str) -> datetime | None:
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


def _tag_matches(header: str, tag: str) -> bool:
    """Weak comparison of ``If-None-Match`` (a list of tags, or ``*``) with our tag."""
    if header.strip() == "*":
        return True
    opaque = tag.removeprefix("W/")
    return any(candidate.strip().removeprefix("W/") == opaque for candidate in header.split(","))


def not_modified(request: Request, tag: str, last_modified: datetime | None) -> bool:
    """Whether the client's copy, described by its conditional headers, is still current."""
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None:
        return _tag_matches(if_none_match, tag)
    if_modified_since = request.headers.get("if-modified-since")
    if if_modified_since is None or last_modified is None:
        return False
    since = _parse_http_date(if_modified_since)
    return since is not None and last_modified.replace(microsecond=0) <= since


def conditional_response(
    request: Request, body: bytes, media_type: str, last_modified: datetime | None, max_age: int = 300
) -> Response:
    """``body`` with its validators, or a 304 when the request's conditions say the client has it."""
    tag = entity_tag(body)
    headers = {"ETag": tag, "Cache-Control": f"public, max-age={max_age}"}
    if last_modified is not None:
        headers["Last-Modified"] = http_date(last_modified)
    if not_modified(request, tag, last_modified):
        return Response(status_code=304, headers=headers)
    return Response(body, 200, headers, media_type)
