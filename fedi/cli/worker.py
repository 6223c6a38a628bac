"""``fedi worker``: process the queues (received activities, deliveries) until SIGTERM or SIGINT.

On a signal the worker stops claiming, lets the batch in flight finish for up to SHUTDOWN_GRACE
seconds and then cancels it; rows it leaves locked are claimed again once their lock expires.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
from collections.abc import Callable, Coroutine
from typing import Any

from fedi.assembly import build_worker, open_services
from fedi.cli.context import Database, settings_from
from fedi.database import connect
from fedi.migrate import migrate

log = logging.getLogger(__name__)

SHUTDOWN_GRACE = 30.0
POOL_SIZE = 10
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def add_parsers(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``worker``."""
    parser = commands.add_parser("worker", help="process received activities and deliveries until stopped (migrates the database first)")
    parser.set_defaults(handler=run_worker)


async def run_worker(args: argparse.Namespace) -> int:
    """Migrate, then work until a stop signal."""
    settings = settings_from(args)
    database = Database(settings)
    try:
        conn = await connect(database.url)
        try:
            await migrate(conn)
        finally:
            await conn.close()
        async with open_services(settings, database.url, pool_size=POOL_SIZE) as services:
            await work_until_signalled(build_worker(services).run_forever)
    finally:
        database.close()
    return 0


async def work_until_signalled(run_forever: Callable[[asyncio.Event], Coroutine[Any, Any, None]]) -> None:
    """Run ``run_forever(stop)`` until SIGTERM/SIGINT, then give the work in flight SHUTDOWN_GRACE seconds."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in STOP_SIGNALS:
        loop.add_signal_handler(signum, stop.set)
    work = asyncio.create_task(run_forever(stop))
    stopping = asyncio.create_task(stop.wait())
    try:
        print("fedi worker is running", flush=True)
        await asyncio.wait({work, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if not work.done():
            log.info("stopping: finishing the work in flight (at most %.0f s)", SHUTDOWN_GRACE)
            finished, _ = await asyncio.wait({work}, timeout=SHUTDOWN_GRACE)
            if not finished:
                log.warning("the work in flight did not finish in %.0f s: cancelling it", SHUTDOWN_GRACE)
                work.cancel()
                await asyncio.wait({work})
                return
        work.result()  # a crash of the loop is an error of the command
    finally:
        stopping.cancel()
        for signum in STOP_SIGNALS:
            loop.remove_signal_handler(signum)
        log.info("worker stopped")
