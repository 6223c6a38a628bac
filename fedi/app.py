"""The application factory: routes from each package, middleware, and the lifespan's shared state."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response

from actors import nodeinfo, routes as actor_routes, webfinger
from fedi.database import create_pool
from fedi.proxy import TrustedProxyMiddleware
from fedi.responses import error_response
from fedi.settings import Settings
from keys.keypairs import KeyVault


async def http_error(request: Request, exc: Exception) -> Response:
    """Every HTTP error as ``{"error": ...}`` with its status."""
    assert isinstance(exc, HTTPException)
    return error_response(exc.status_code, exc.detail, dict(exc.headers or {}))


def create_app(settings: Settings, database_url: str | None = None) -> Starlette:
    """Build the ASGI app for ``settings`` (``database_url`` overrides the settings' one)."""
    url = database_url or settings.database_url
    if not url:
        raise ValueError("create_app needs a database URL")

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        pool = await create_pool(url)
        try:
            yield {"settings": settings, "pool": pool, "vault": KeyVault(settings.secret_key)}
        finally:
            await pool.close()

    return Starlette(
        routes=[*webfinger.routes, *nodeinfo.routes, *actor_routes.routes],
        middleware=[Middleware(TrustedProxyMiddleware, trusted=settings.trusted_proxies)],
        exception_handlers={HTTPException: http_error},
        lifespan=lifespan,
    )
