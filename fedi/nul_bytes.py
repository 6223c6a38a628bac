"""Refuse requests whose address carries a NUL byte: 400 ``{"error": ...}`` before any handler runs.

PostgreSQL's text cannot hold NUL, so such a name or search term would fail in the first query that
compares it. No valid address of this server contains one, so one check here covers every route.
"""

from __future__ import annotations

from urllib.parse import unquote_to_bytes

from starlette.types import ASGIApp, Receive, Scope, Send

from fedi.responses import error_response


def has_nul(scope: Scope) -> bool:
    """Whether the request's path or query string holds a NUL byte, raw or percent-encoded."""
    raw_path = scope.get("raw_path") or scope.get("path", "").encode("utf-8", "surrogateescape")
    for part in (raw_path, scope.get("query_string", b"")):
        if b"\x00" in part or (b"%" in part and b"\x00" in unquote_to_bytes(part)):
            return True
    return False


class NulByteMiddleware:
    """Answer 400 to an HTTP request whose address holds a NUL byte."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and has_nul(scope):
            await error_response(400, "the address contains a NUL byte")(scope, receive, send)
            return
        await self.app(scope, receive, send)
