"""Trust ``X-Forwarded-Proto``/``-Host``/``-For`` only from configured proxy addresses.

Behind nginx the request's Host and scheme are the proxy's to tell; from anyone else those
headers are ignored, so a client cannot make a signature over ``host`` verify for another host
or pass itself off as another address. Of ``X-Forwarded-For`` only the rightmost address that is not
a trusted proxy is believed: what a client writes in front of it is ignored.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from typing import Sequence

from starlette.types import ASGIApp, Receive, Scope, Send

from fedi.settings import IPNetwork

_FORWARDING = frozenset({b"x-forwarded-proto", b"x-forwarded-host", b"x-forwarded-for"})


class TrustedProxyMiddleware:
    """Rewrite scheme, host and client from forwarding headers sent by a trusted proxy."""

    def __init__(self, app: ASGIApp, trusted: Sequence[IPNetwork]) -> None:
        self.app = app
        self.trusted = tuple(trusted)
        # the proxies' few addresses come again and again: parse and compare each once (bounded)
        self._trusted_address = lru_cache(maxsize=1024)(self._address_is_trusted)

    def _address_is_trusted(self, host: str) -> bool:
        try:
            address = ipaddress.ip_address(host)
        except ValueError:  # a Unix socket peer
            return False
        return any(address in network for network in self.trusted)

    def _is_trusted(self, scope: Scope) -> bool:
        client = scope.get("client")
        if not client or not self.trusted:
            return False
        return self._trusted_address(client[0])

    def _client_of(self, forwarded_for: str) -> str | None:
        """The client in an ``X-Forwarded-For`` list: the rightmost address that is not a trusted proxy.

        Proxies append the address they saw, so entries left of the last untrusted one are the
        client's own words and could name anyone.
        """
        entries = [entry.strip() for entry in forwarded_for.split(",") if entry.strip()]
        for entry in reversed(entries):
            try:
                address = ipaddress.ip_address(entry)
            except ValueError:
                return None  # not an address: believe nothing left of it
            if not any(address in network for network in self.trusted):
                return entry
        return entries[0] if entries else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and self._is_trusted(scope):
            forwarded = {k: v for k, v in scope["headers"] if k in _FORWARDING}
            if forwarded:
                scope = self._rewrite(scope, forwarded)
        await self.app(scope, receive, send)

    def _rewrite(self, scope: Scope, forwarded: dict[bytes, bytes]) -> Scope:
        """A copy of ``scope`` with the scheme, host and client the trusted proxy forwarded."""
        scope = dict(scope)
        proto = forwarded.get(b"x-forwarded-proto", b"").split(b",")[0].strip().decode("latin-1").lower()
        if proto in ("http", "https"):
            scope["scheme"] = proto if scope["type"] == "http" else {"http": "ws", "https": "wss"}[proto]
        host = forwarded.get(b"x-forwarded-host", b"").split(b",")[0].strip()
        if host:
            scope["headers"] = [(k, v) for k, v in scope["headers"] if k != b"host"] + [(b"host", host)]
        forwarded_for = self._client_of(forwarded.get(b"x-forwarded-for", b"").decode("latin-1"))
        if forwarded_for:
            scope["client"] = (forwarded_for, 0)
        return scope
