"""The application factory: routes from each package, middleware, and the lifespan's shared services.

The lifespan opens the services (pool, HTTP client, actor resolver) and, when asked, runs
the queue worker in the same process, as small deployments want; larger ones run ``fedi worker``
processes beside ``fedi serve --no-worker``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import Response

from actors import nodeinfo, routes as actor_routes, webfinger
from api import routes as api_routes
from api.errors import ApiError, api_error_response
from fedi import health, metrics
from fedi.assembly import HttpClientFactory, build_http_client, build_worker, open_services
from fedi.draining import draining_worker
from fedi.nul_bytes import NulByteMiddleware
from fedi.proxy import TrustedProxyMiddleware
from fedi.request_ids import RequestIdMiddleware
from fedi.responses import error_response
from fedi.settings import Settings
from fedi.unavailable import handlers as database_unavailable_handlers
from inbox import routes as inbox_routes
from outbox import queue_queries, routes as outbox_routes
from web import routes as web_routes

log = logging.getLogger(__name__)

WORKER_SHUTDOWN_GRACE = 10.0


async def http_error(request: Request, exc: Exception) -> Response:
    """Every HTTP error as ``{"error": ...}`` with its status."""
    assert isinstance(exc, HTTPException)
    return error_response(exc.status_code, exc.detail, dict(exc.headers or {}))


def create_app(
    settings: Settings,
    database_url: str | None = None,
    *,
    http_client: HttpClientFactory = build_http_client,
    run_worker: bool = False,
) -> Starlette:
    """Build the ASGI app for ``settings`` (``database_url`` overrides the settings' one)."""
    url = database_url or settings.database_url
    if not url:
        raise ValueError("create_app needs a database URL")

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        async with open_services(settings, url, http_client=http_client) as services:
            app.state.services = services
            stop = asyncio.Event()
            worker, draining = draining_worker(build_worker(services), stop)
            running = asyncio.create_task(worker.run_forever(stop)) if run_worker else None
            try:
                yield services.state()
            finally:
                if running is not None:
                    stop.set()
                    done, _ = await asyncio.wait({running}, timeout=WORKER_SHUTDOWN_GRACE)
                    if not done:
                        log.warning("the in-process worker did not finish in %.0f s: cancelling it", WORKER_SHUTDOWN_GRACE)
                        running.cancel()
                        await asyncio.wait({running})
                    for task in draining:
                        if released := await task.release(services.pool):
                            log.info("%s: released %d claimed items for other workers", task.name, released)

    return Starlette(
        routes=[
            *health.routes, *metrics.build_routes(queue_queries.queue_depth, settings.metrics_allow),
            *web_routes.routes,  # first: its pages share addresses with actors' and posts' documents
            *webfinger.routes, *nodeinfo.routes, *actor_routes.routes, *outbox_routes.routes, *inbox_routes.routes,
            *api_routes.routes,
        ],
        middleware=[
            Middleware(NulByteMiddleware),
            Middleware(TrustedProxyMiddleware, trusted=settings.trusted_proxies),
            Middleware(RequestIdMiddleware),  # after the proxy's rewrite: it logs the client's scheme and path
            # browser apps (Elk, Phanpy) call the API and OAuth endpoints from other origins, without cookies
            Middleware(
                CORSMiddleware, allow_origins=["*"], allow_methods=["*"],
                allow_headers=["Authorization", "Content-Type", "Idempotency-Key"], expose_headers=["Link"],
            ),
        ],
        exception_handlers={HTTPException: http_error, ApiError: api_error_response, **database_unavailable_handlers},
        lifespan=lifespan,
    )
