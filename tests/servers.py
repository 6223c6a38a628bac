"""Run a real fedi server (uvicorn) on a loopback port inside the test's event loop."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

import uvicorn
from starlette.types import ASGIApp

from fedi.app import create_app
from fedi.settings import Settings


def running_server(
    settings: Settings, tls_cert: Path | None = None, tls_key: Path | None = None
) -> AbstractAsyncContextManager[str]:
    """Serve ``settings``' app on 127.0.0.1 and yield its base URL; stop it afterwards."""
    return running_asgi(create_app(settings), tls_cert, tls_key)


@asynccontextmanager
async def running_asgi(
    app: ASGIApp, tls_cert: Path | None = None, tls_key: Path | None = None
) -> AsyncIterator[str]:
    """Serve any ASGI app on a free loopback port and yield its base URL."""
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=0,
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


def client_ssl_context(ca_pem: Path) -> ssl.SSLContext:
    """A client TLS context trusting only the test CA."""
    return ssl.create_default_context(cafile=str(ca_pem))
