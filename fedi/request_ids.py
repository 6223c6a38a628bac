"""Each request's id, its access log line and its metrics.

The id comes from an ``X-Request-Id`` header when it is short and made of safe characters (a proxy
in front usually sets one), else it is generated; it is echoed in the response's ``X-Request-Id``
and set in ``fedi.logs.request_id`` while the request is handled. When the answer is sent, one
``fedi.access`` line is logged and the request is counted under its route template.
"""

from __future__ import annotations

import itertools
import os
import re
import secrets
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fedi import metrics
from fedi.logs import log_access, request_id

HEADER = "x-request-id"
_HEADER = HEADER.encode()
REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


_PREFIX = secrets.token_hex(8)
_counter = itertools.count(1)


def _new_prefix() -> None:
    """A forked process draws its own prefix, so two processes never hand out the same id."""
    global _PREFIX
    _PREFIX = secrets.token_hex(8)


os.register_at_fork(after_in_child=_new_prefix)


def accepted_request_id(value: str | None) -> str:
    """The incoming id when it is safe to log and echo, else a new one (a random prefix per process, then a count)."""
    if value is not None and REQUEST_ID_RE.match(value):
        return value
    return f"{_PREFIX}{next(_counter):016x}"


def route_template(scope: Scope) -> str:
    """The matched route's path template (``/users/{username}``), or "unmatched"."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else metrics.UNMATCHED_ROUTE


class RequestIdMiddleware:
    """Give each HTTP request an id, then log and count its answer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = None
        for name, value in scope["headers"]:
            if name == _HEADER:
                incoming = value.decode("latin-1")
                break
        rid = accepted_request_id(incoming)
        echoed = (_HEADER, rid.encode())
        token = request_id.set(rid)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [(k, v) for k, v in message.get("headers", ()) if k.lower() != _HEADER]
                message["headers"] = [*headers, echoed]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - started
            metrics.count_request(scope["method"], route_template(scope), status, seconds)
            log_access(scope["method"], scope["path"], status, round(seconds * 1000, 1), rid)
            request_id.reset(token)
