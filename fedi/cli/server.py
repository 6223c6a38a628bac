"""``fedi serve`` (production) and ``fedi quickstart`` (what ``make run`` starts).

``--workers N`` (N > 1) runs N uvicorn processes on one port: uvicorn imports
``fedi.cli.server:app_from_environment`` in each, which builds the app from the settings this
process leaves in the environment (the database URL, the config file, the log format, whether to
run the queue worker). Each process then runs its own in-process queue worker, which is safe: rows
are claimed with ``FOR UPDATE SKIP LOCKED``, so the N workers share the queues and never take the
same row; it means N times the database connections. Their metrics add up through a fresh
``PROMETHEUS_MULTIPROC_DIR``. On SIGTERM uvicorn stops accepting connections, lets requests in
flight finish for up to ``--graceful-timeout`` seconds, then stops the queue worker.
"""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import shutil
import signal
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncpg
import uvicorn
import uvloop
from starlette.applications import Starlette

from actors import queries
from actors.departments import create_department
from actors.validation import department_input
from fedi.app import create_app
from fedi.cli.context import Database, fail, settings_from
from fedi.database import connect
from fedi.logs import FORMATS, configure_logging
from fedi.metrics import MULTIPROC_DIR_VARIABLE
from fedi.migrate import migrate
from fedi.settings import CONFIG_FILE_NAME, SECRET_FILE_NAME, Settings, load_settings
from keys.keypairs import KeyVault

log = logging.getLogger(__name__)

GRACEFUL_TIMEOUT = 30.0
# The event loop and HTTP parser (bench/common.py's hello-world baseline is served with the same):
# uvloop and httptools answer a GET in about two thirds of the CPU time of asyncio's loop and h11.
LOOP = "uvloop"
HTTP = "httptools"
QUEUE_WORKER_VARIABLE = "FEDI_SERVE_QUEUE_WORKER"  # set for the processes of `serve --workers N`

DEMO_DEPARTMENT = {
    "display_name": "Demo department",
    "summary": "A department created by the quick start. Follow it from your fediverse account, "
    "or create real departments with `fedi admin`.",
    "area": "Demo",
    "fields": [{"name": "Opening hours", "value": "Mon-Fri 9-17"}, {"name": "Software", "value": "fedi"}],
}


def add_parsers(commands: argparse._SubParsersAction) -> None:
    """Register ``serve`` and ``quickstart``."""
    for name, handler, help_text in (
        ("serve", run_serve, "serve the web application (migrates the database first)"),
        ("quickstart", run_quickstart, "development server: secret, embedded database and demo department"),
    ):
        parser = commands.add_parser(name, help=help_text)
        parser.add_argument("--host", help="listen address (FEDI_HOST, default 127.0.0.1)")
        parser.add_argument("--port", type=int, help="listen port (FEDI_PORT, default 8000)")
        parser.add_argument("--tls-cert", metavar="FILE", help="serve HTTPS with this certificate chain (PEM)")
        parser.add_argument("--tls-key", metavar="FILE", help="private key of --tls-cert (PEM)")
        parser.add_argument(
            "--no-worker", action="store_true",
            help="do not process queues in this process (run `fedi worker` processes instead)",
        )
        parser.add_argument("--workers", type=int, default=1, metavar="N", help="web server processes (default 1)")
        parser.add_argument(
            "--graceful-timeout", type=float, default=GRACEFUL_TIMEOUT, metavar="SECONDS",
            help=f"on SIGTERM, how long requests in flight may take to finish (default {GRACEFUL_TIMEOUT:.0f})",
        )
        parser.add_argument("--log-format", choices=FORMATS, help="json (default when not a terminal) or text (FEDI_LOG_FORMAT)")
        parser.set_defaults(handler=handler, loop_factory=uvloop.new_event_loop)


async def run_serve(args: argparse.Namespace) -> int:
    """Migrate, then serve until interrupted."""
    settings = settings_from(args, host=args.host, port=args.port, tls_cert=args.tls_cert, tls_key=args.tls_key)
    await serve(settings, run_worker=not args.no_worker, options=serve_options(args, settings))
    return 0


async def run_quickstart(args: argparse.Namespace) -> int:
    """Serve with everything a first look needs: no configuration required."""
    data_dir = Path(os.environ.get("FEDI_DATA_DIR") or "var")
    port = args.port or int(os.environ.get("FEDI_PORT") or 8000)
    write_once(data_dir / SECRET_FILE_NAME, secrets.token_urlsafe(48) + "\n")
    if not args.config and not os.environ.get("FEDI_CONFIG"):
        write_once(data_dir / CONFIG_FILE_NAME, f'domain = "localhost:{port}"\nscheme = "http"\n')
    settings = settings_from(args, host=args.host, port=port, tls_cert=args.tls_cert, tls_key=args.tls_key)
    await serve(settings, demo=True, run_worker=not args.no_worker, options=serve_options(args, settings))
    return 0


def serve_options(args: argparse.Namespace, settings: Settings) -> argparse.Namespace:
    """Check the process options and set up logging; bad values exit with status 2."""
    if args.workers < 1:
        fail(f"--workers must be at least 1 (got {args.workers})")
    if args.graceful_timeout < 0:
        fail("--graceful-timeout must not be negative")
    args.log_format = configure_logging(
        args.log_format or settings.log_format or None, logging.DEBUG if args.verbose else logging.INFO
    )
    return args


def write_once(path: Path, content: str) -> None:
    """Create ``path`` (readable by its owner only) with ``content`` unless it exists."""
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_text(content, encoding="utf-8")
    log.info("created %s", path)


async def provision_demo(conn: asyncpg.Connection, settings: Settings) -> None:
    """Create the ``demo`` department when the database has no department yet."""
    if await queries.count_departments(conn) == 0 and not await queries.username_taken(conn, "demo"):
        await create_department(conn, settings, KeyVault(settings.secret_key), department_input("demo", DEMO_DEPARTMENT))
        log.info("created the demo department")


async def serve(
    settings: Settings, demo: bool = False, run_worker: bool = True, options: argparse.Namespace | None = None
) -> None:
    """Migrate the database, optionally add the demo department, print the URLs and serve."""
    workers = options.workers if options is not None else 1
    graceful = options.graceful_timeout if options is not None else GRACEFUL_TIMEOUT
    database = Database(settings)
    try:
        conn = await connect(database.url)
        try:
            await migrate(conn)
            if demo:
                await provision_demo(conn, settings)
        finally:
            await conn.close()
        listen = f"{'https' if settings.tls_cert else 'http'}://{settings.host}:{settings.port}"
        print(f"fedi is listening on {listen} (public address {settings.base_url})", flush=True)
        if demo:
            print_urls(settings)
        listening = dict(
            host=settings.host,
            port=settings.port,
            ssl_certfile=str(settings.tls_cert) if settings.tls_cert else None,
            ssl_keyfile=str(settings.tls_key) if settings.tls_key else None,
            proxy_headers=False,  # TrustedProxyMiddleware decides whom to believe
            server_header=False,
            log_config=None,
            access_log=False,  # fedi.request_ids logs each request
            loop=LOOP,  # the processes of --workers N; one process runs on the command's loop (loop_factory)
            http=HTTP,
            timeout_graceful_shutdown=graceful,
        )
        if workers > 1:
            log_format = options.log_format if options is not None else ""
            with worker_environment(database.url, options, run_worker, log_format):
                uvicorn.run(f"{__name__}:app_from_environment", factory=True, workers=workers, **listening)
        else:
            with sigterm_exits_cleanly():
                await uvicorn.Server(uvicorn.Config(create_app(settings, database.url, run_worker=run_worker), **listening)).serve()
    finally:
        database.close()


@contextmanager
def sigterm_exits_cleanly() -> Iterator[None]:
    """Make the SIGTERM uvicorn re-raises after its graceful shutdown end the command with status 0."""
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: None)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def worker_environment(
    database_url: str, options: argparse.Namespace | None, run_worker: bool, log_format: str
) -> Iterator[None]:
    """What the processes of ``--workers N`` read: settings, a fresh metrics directory (removed afterwards)."""
    metrics_dir = tempfile.mkdtemp(prefix="fedi-metrics-")
    values = {
        "DATABASE_URL": database_url,
        QUEUE_WORKER_VARIABLE: "1" if run_worker else "0",
        "FEDI_LOG_FORMAT": log_format,
        MULTIPROC_DIR_VARIABLE: metrics_dir,
    }
    if options is not None and getattr(options, "config", None):
        values["FEDI_CONFIG"] = str(Path(options.config).resolve())
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        shutil.rmtree(metrics_dir, ignore_errors=True)


def app_from_environment() -> Starlette:
    """The app of one ``fedi serve --workers N`` process, from the settings in the environment."""
    settings = load_settings()
    configure_logging(settings.log_format or None)
    return create_app(settings, run_worker=os.environ.get(QUEUE_WORKER_VARIABLE) == "1")


def print_urls(settings: Settings) -> None:
    """Tell the person at the terminal what to try."""
    base = settings.base_url
    print("Try:")
    print(f"  curl -H 'Accept: application/activity+json' {base}/users/demo")
    print(f"  curl '{base}/.well-known/webfinger?resource=acct:demo@{settings.domain}'")
    print(f"  curl {base}/.well-known/nodeinfo")
    print(f"  open {base}/@demo in a browser", flush=True)
