"""``fedi worker``: process the queues (received activities, deliveries) until SIGTERM or SIGINT.

On a signal the worker stops claiming and lets the items it has started finish, for up to
``--graceful-timeout`` seconds (then cancels them). Items it had claimed but not started yet are
released at once — unlocked, the claim not counted as an attempt — so another worker takes them
without waiting for the lock to expire; items cancelled mid-way are unlocked too (receivers
deduplicate by activity id, so a repeat is harmless). Nothing claimed is lost: every row ends
delivered, retried or pending. With ``--metrics-port`` the process shows its own ``/metrics``.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import signal
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

import asyncpg
import uvloop

from fedi import metrics
from fedi.assembly import build_worker, open_services
from fedi.cli.context import Database, fail, settings_from
from fedi.database import connect
from fedi.draining import draining_worker
from fedi.logs import FORMATS, configure_logging
from fedi.migrate import migrate
from fedi.settings import Settings
from outbox import queue_queries

if TYPE_CHECKING:
    from aiohttp import web

log = logging.getLogger(__name__)

SHUTDOWN_GRACE = 30.0
POOL_SIZE = 10
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)

def add_parsers(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``worker``."""
    parser = commands.add_parser("worker", help="process received activities and deliveries until stopped (migrates the database first)")
    parser.add_argument(
        "--graceful-timeout", type=float, default=SHUTDOWN_GRACE, metavar="SECONDS",
        help=f"on SIGTERM, how long started items may take to finish (default {SHUTDOWN_GRACE:.0f})",
    )
    parser.add_argument("--metrics-port", type=int, metavar="PORT", help="show this process's /metrics on this port")
    parser.add_argument("--log-format", choices=FORMATS, help="json (default when not a terminal) or text (FEDI_LOG_FORMAT)")
    parser.set_defaults(handler=run_worker, loop_factory=uvloop.new_event_loop)


async def run_worker(args: argparse.Namespace) -> int:
    """Migrate, then work until a stop signal."""
    settings = settings_from(args)
    configure_logging(args.log_format or settings.log_format or None, logging.DEBUG if args.verbose else logging.INFO)
    if args.graceful_timeout < 0:
        fail("--graceful-timeout must not be negative")
    if args.metrics_port is not None and not 0 < args.metrics_port < 65536:
        fail(f"--metrics-port {args.metrics_port} is out of range (1-65535)")
    database = Database(settings)
    try:
        conn = await connect(database.url)
        try:
            await migrate(conn)
        finally:
            await conn.close()
        async with open_services(settings, database.url, pool_size=POOL_SIZE) as services:
            stop = asyncio.Event()
            worker, draining = draining_worker(build_worker(services), stop)
            runner = await serve_metrics(services.pool, settings, args.metrics_port) if args.metrics_port else None
            try:
                await work_until_signalled(worker.run_forever, stop, args.graceful_timeout)
            finally:
                for task in draining:
                    released = await task.release(services.pool)
                    if released:
                        log.info("%s: released %d claimed items for other workers", task.name, released)
                if runner is not None:
                    await runner.cleanup()
    finally:
        database.close()
    log.info("worker stopped")
    return 0


async def serve_metrics(pool: asyncpg.Pool, settings: Settings, port: int) -> web.AppRunner:
    """Answer ``GET /metrics`` on ``settings.host``:``port`` (for the addresses in FEDI_METRICS_ALLOW).

    aiohttp's server half is imported here, when asked for: a worker without ``--metrics-port`` saves its
    memory (about 2 MB).
    """
    server = importlib.import_module("aiohttp.web")

    async def handle(request: web.Request) -> web.Response:
        if not metrics.is_allowed(request.remote, settings.metrics_allow):
            return server.json_response({"error": "metrics are only shown to the addresses in FEDI_METRICS_ALLOW"}, status=403)
        async with pool.acquire() as conn:
            values = await queue_queries.queue_depth(conn)
        body = metrics.render_counters() + metrics.render_gauges(values)
        return server.Response(body=body, headers={"Content-Type": metrics.CONTENT_TYPE_LATEST})

    app = server.Application()
    app.router.add_get("/metrics", handle)
    runner: web.AppRunner = server.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    await server.TCPSite(runner, settings.host, port).start()
    log.info("metrics at http://%s:%d/metrics", settings.host, port)
    return runner


async def work_until_signalled(
    run_forever: Callable[[asyncio.Event], Coroutine[Any, Any, None]], stop: asyncio.Event | None = None,
    grace: float = SHUTDOWN_GRACE,
) -> None:
    """Run ``run_forever(stop)`` until SIGTERM/SIGINT, then give the work in flight ``grace`` seconds."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in STOP_SIGNALS:
        loop.add_signal_handler(signum, stop.set)
    work = asyncio.create_task(run_forever(stop))
    stopping = asyncio.create_task(stop.wait())
    try:
        print("fedi worker is running", flush=True)
        await asyncio.wait({work, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if not work.done():
            log.info("stopping: finishing the work in flight (at most %.0f s)", grace)
            finished, _ = await asyncio.wait({work}, timeout=grace)
            if not finished:
                log.warning("the work in flight did not finish in %.0f s: cancelling it", grace)
                work.cancel()
                await asyncio.wait({work})
                return
        work.result()  # a crash of the loop is an error of the command
    finally:
        stopping.cancel()
        for signum in STOP_SIGNALS:
            loop.remove_signal_handler(signum)
