"""Run a real fedi server (uvicorn) on a loopback port inside the test's event loop."""

from __future__ import annotations

import asyncio
import ipaddress
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import trustme
import uvicorn
from starlette.applications import Starlette
from starlette.types import ASGIApp

from fedi.app import create_app
from fedi.assembly import HttpClientFactory, Services, build_http_client
from fedi.http_client import HttpClient
from fedi.settings import Settings

# Host names tests give their servers; every one resolves to 127.0.0.1 for fedi's HTTP client.
TEST_HOSTS = {name: "127.0.0.1" for name in ("peer.test", "other.test", "a.test", "b.test", "city.example")}


@dataclass(frozen=True)
class RunningInstance:
    """A fedi server running in the test's event loop."""

    base_url: str
    app: Starlette

    @property
    def services(self) -> Services:
        """The services its lifespan opened (pool, HTTP client, resolver…)."""
        return self.app.state.services  # type: ignore[no-any-return]


def trusting_http_client_factory(ca: trustme.CA) -> HttpClientFactory:
    """HTTP clients that trust the test CA, may reach loopback and resolve the test host names there."""

    def factory(settings: Settings) -> HttpClient:
        context = ssl.create_default_context()
        ca.configure_trust(context)
        return HttpClient(
            (ipaddress.ip_network("127.0.0.0/8"),), user_agent="fedi-test", static_hosts=TEST_HOSTS, ssl_context=context
        )

    return factory


@asynccontextmanager
async def running_server(
    settings: Settings,
    tls_cert: Path | None = None,
    tls_key: Path | None = None,
    http_client: HttpClientFactory = build_http_client,
    port: int = 0,
) -> AsyncIterator[RunningInstance]:
    """Serve ``settings``' app on 127.0.0.1 and yield it with its base URL; stop it afterwards."""
    app = create_app(settings, http_client=http_client)
    async with running_asgi(app, tls_cert, tls_key, port) as base_url:
        yield RunningInstance(base_url, app)


@asynccontextmanager
async def running_asgi(
    app: ASGIApp, tls_cert: Path | None = None, tls_key: Path | None = None, port: int = 0
) -> AsyncIterator[str]:
    """Serve any ASGI app on a loopback port (a free one by default) and yield its base URL."""
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_config=None,
        lifespan="auto",
        proxy_headers=False,
        ssl_certfile=str(tls_cert) if tls_cert else None,
        ssl_keyfile=str(tls_key) if tls_key else None,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError("server stopped before it started")
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"{'https' if tls_cert else 'http'}://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task

