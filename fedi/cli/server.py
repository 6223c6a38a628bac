"""``fedi serve`` (production) and ``fedi quickstart`` (what ``make run`` starts)."""

from __future__ import annotations

import argparse
import logging
import os
import secrets
from pathlib import Path

import asyncpg
import uvicorn

from actors import queries
from actors.departments import create_department
from actors.validation import department_input
from fedi.app import create_app
from fedi.cli.context import Database, settings_from
from fedi.database import connect
from fedi.migrate import migrate
from fedi.settings import CONFIG_FILE_NAME, SECRET_FILE_NAME, Settings
from keys.keypairs import KeyVault

log = logging.getLogger(__name__)

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
        parser.set_defaults(handler=handler)


async def run_serve(args: argparse.Namespace) -> int:
    """Migrate, then serve until interrupted."""
    settings = settings_from(args, host=args.host, port=args.port, tls_cert=args.tls_cert, tls_key=args.tls_key)
    await serve(settings, run_worker=not args.no_worker)
    return 0


async def run_quickstart(args: argparse.Namespace) -> int:
    """Serve with everything a first look needs: no configuration required."""
    data_dir = Path(os.environ.get("FEDI_DATA_DIR") or "var")
    port = args.port or int(os.environ.get("FEDI_PORT") or 8000)
    write_once(data_dir / SECRET_FILE_NAME, secrets.token_urlsafe(48) + "\n")
    if not args.config and not os.environ.get("FEDI_CONFIG"):
        write_once(data_dir / CONFIG_FILE_NAME, f'domain = "localhost:{port}"\nscheme = "http"\n')
    settings = settings_from(args, host=args.host, port=port, tls_cert=args.tls_cert, tls_key=args.tls_key)
    await serve(settings, demo=True, run_worker=not args.no_worker)
    return 0


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


async def serve(settings: Settings, demo: bool = False, run_worker: bool = True) -> None:
    """Migrate the database, optionally add the demo department, print the URLs and serve."""
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
        config = uvicorn.Config(
            create_app(settings, database.url, run_worker=run_worker),
            host=settings.host,
            port=settings.port,
            ssl_certfile=str(settings.tls_cert) if settings.tls_cert else None,
            ssl_keyfile=str(settings.tls_key) if settings.tls_key else None,
            proxy_headers=False,  # TrustedProxyMiddleware decides whom to believe
            server_header=False,
            log_config=None,
        )
        await uvicorn.Server(config).serve()
    finally:
        database.close()


def print_urls(settings: Settings) -> None:
    """Tell the person at the terminal what to try."""
    base = settings.base_url
    print("Try:")
    print(f"  curl -H 'Accept: application/activity+json' {base}/users/demo")
    print(f"  curl '{base}/.well-known/webfinger?resource=acct:demo@{settings.domain}'")
    print(f"  curl {base}/.well-known/nodeinfo")
    print(f"  open {base}/@demo in a browser", flush=True)
