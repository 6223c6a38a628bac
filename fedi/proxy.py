"""Trust ``X-Forwarded-Proto``/``-Host``/``-For`` only from configured proxy addresses.

Behind nginx the request's Host and scheme are the proxy's to tell; from anyone else those
headers are ignored, so a client cannot make a signature over ``host`` verify for another host
or pass itself off as another address.
"""

from __future__ import annotations

import ipaddress
from typing import Sequence

from starlette.types import ASGIApp, Receive, Scope, Send

from fedi.settings import IPNetwork


class TrustedProxyMiddleware:
    """Rewrite scheme, host and client from forwarding headers sent by a trusted proxy."""

    def __init__(self, app: ASGIApp, trusted: Sequence[IPNetwork]) -> None:
        self.app = app
        self.trusted = tuple(trusted)

    def _is_trusted(self, scope: Scope) -> bool:
        client = scope.get("client")
        if not client or not self.trusted:
            return False
        try:
            address = ipaddress.ip_address(client[0])
        except ValueError:  # a Unix socket peer
            return False
        return any(address in network for network in self.trusted)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and self._is_trusted(scope):
            headers = dict(scope["headers"])
            scope = dict(scope)
            proto = headers.get(b"x-forwarded-proto", b"").split(b",")[0].strip().decode("latin-1").lower()
            if proto in ("http", "https"):
                scope["scheme"] = proto if scope["type"] == "http" else {"http": "ws", "https": "wss"}[proto]
            host = headers.get(b"x-forwarded-host", b"").split(b",")[0].strip()
            if host:
                scope["headers"] = [(k, v) for k, v in scope["headers"] if k != b"host"] + [(b"host", host)]
            forwarded_for = headers.get(b"x-forwarded-for", b"").split(b",")[0].strip().decode("latin-1")
            if forwarded_for:
                scope["client"] = (forwarded_for, 0)
        await self.app(scope, receive, send)
