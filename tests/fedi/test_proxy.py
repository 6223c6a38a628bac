"""Forwarding headers are believed only from trusted proxy addresses."""

from __future__ import annotations

import ipaddress

import aiohttp
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from fedi.proxy import TrustedProxyMiddleware
from tests.servers import running_asgi


async def echo(request: Request) -> JSONResponse:
    return JSONResponse({"scheme": request.url.scheme, "host": request.headers["host"], "client": request.client.host if request.client else None})


FORWARDED = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "city.example", "X-Forwarded-For": "203.0.113.7"}


async def test_trusted_proxy_sets_scheme_host_and_client(http: aiohttp.ClientSession) -> None:
    app = TrustedProxyMiddleware(Starlette(routes=[Route("/", echo)]), (ipaddress.ip_network("127.0.0.0/8"),))
    async with running_asgi(app) as url, http.get(url, headers=FORWARDED) as response:
        seen = await response.json()
    assert seen == {"scheme": "https", "host": "city.example", "client": "203.0.113.7"}


async def test_untrusted_peer_cannot_forge_forwarding_headers(http: aiohttp.ClientSession) -> None:
    app = TrustedProxyMiddleware(Starlette(routes=[Route("/", echo)]), (ipaddress.ip_network("10.0.0.0/8"),))
    async with running_asgi(app) as url, http.get(url, headers=FORWARDED) as response:
        seen = await response.json()
    assert seen["scheme"] == "http"
    assert seen["host"].startswith("127.0.0.1:")
    assert seen["client"] == "127.0.0.1"


async def test_a_client_cannot_forge_its_address_in_front_of_the_proxys_entry(http: aiohttp.ClientSession) -> None:
    app = TrustedProxyMiddleware(
        Starlette(routes=[Route("/", echo)]), (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("10.0.0.0/8"))
    )
    # the client wrote 198.51.100.1; the outer proxy appended the client's real address, an inner one its own
    headers = {"X-Forwarded-For": "198.51.100.1, 203.0.113.7, 10.0.0.2"}
    async with running_asgi(app) as url, http.get(url, headers=headers) as response:
        seen = await response.json()
    assert seen["client"] == "203.0.113.7"
