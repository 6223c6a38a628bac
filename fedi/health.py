"""``/healthz`` (the process answers) and ``/readyz`` (the database answers and its schema is up to date).

A load balancer sends traffic to a process only while ``/readyz`` says 200; an orchestrator restarts
it when ``/healthz`` stops answering. Neither needs authentication, and neither says more than
which check failed.
"""

from __future__ import annotations

import asyncio
import logging

import asyncpg
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from fedi.errors import MigrationError
from fedi.migrate import pending_migrations
from fedi.responses import JSONResponse, error_response

log = logging.getLogger(__name__)

DATABASE_TIMEOUT = 5.0


async def healthz(request: Request) -> Response:
    """``GET /healthz``: 200 while the process runs."""
    return JSONResponse({"status": "ok"})


async def readiness_problem(pool: asyncpg.Pool) -> str | None:
    """What keeps this process from serving (the database, a migration), or None when it is ready."""
    try:
        async with asyncio.timeout(DATABASE_TIMEOUT):
            async with pool.acquire() as conn:
                pending = await pending_migrations(conn)
    except MigrationError as error:
        return f"database schema: {error}"
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError, asyncpg.InternalClientError) as error:
        # InternalClientError: a connection whose server process was terminated under it
        log.warning("readiness: the database does not answer: %s", error)
        return f"database: does not answer ({type(error).__name__})"
    if pending:
        return "database schema: migrations not applied: " + ", ".join(m.name for m in pending)
    return None


async def readyz(request: Request) -> Response:
    """``GET /readyz``: 200 when the database answers and every migration is applied, else 503 saying which."""
    problem = await readiness_problem(request.state.pool)
    if problem is not None:
        return error_response(503, problem)
    return JSONResponse({"status": "ready"})


routes = [
    Route("/healthz", healthz, methods=["GET"]),
    Route("/readyz", readyz, methods=["GET"]),
]
