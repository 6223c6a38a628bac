"""Mastodon's pagination: ``max_id``/``since_id``/``min_id``/``limit`` in, a ``Link`` header out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from api.errors import Unprocessable

if TYPE_CHECKING:  # the worker reaches this module without serving requests
    from starlette.requests import Request

DEFAULT_LIMIT = 20
MAX_LIMIT = 40


@dataclass(frozen=True)
class Page:
    """The window a client asked for; ids are database ids (strings on the wire)."""

    max_id: int | None
    since_id: int | None
    min_id: int | None
    limit: int

    @property
    def ascending(self) -> bool:
        """``min_id`` asks for the items just after it, oldest first (then reversed for display)."""
        return self.min_id is not None


def _id(request: Request, name: str) -> int | None:
    value = request.query_params.get(name)
    if value in (None, ""):
        return None
    try:
        return int(value)
    except ValueError:
        raise Unprocessable(f"{name} must be an id") from None


def page_of(request: Request, default: int = DEFAULT_LIMIT, maximum: int = MAX_LIMIT) -> Page:
    """Read the pagination parameters (``limit`` clamped to 1..maximum)."""
    raw = request.query_params.get("limit")
    try:
        limit = default if raw in (None, "") else int(raw)
    except ValueError:
        raise Unprocessable("limit must be a number") from None
    return Page(_id(request, "max_id"), _id(request, "since_id"), _id(request, "min_id"), max(1, min(limit, maximum)))


def link_header(request: Request, ids: list[int], page: Page) -> dict[str, str]:
    """``Link: <…max_id=oldest>; rel="next", <…min_id=newest>; rel="prev"`` for a page of ``ids`` (newest first)."""
    if not ids:
        return {}
    base = str(request.url.replace(query=""))
    kept = urlencode({k: v for k, v in request.query_params.items() if k not in ("max_id", "since_id", "min_id")})
    query = f"{base}?{kept}&" if kept else f"{base}?"
    next_url = f"{query}max_id={min(ids)}"
    prev_url = f"{query}min_id={max(ids)}"
    return {"Link": f'<{next_url}>; rel="next", <{prev_url}>; rel="prev"'}
