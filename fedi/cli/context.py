"""What every subcommand needs: settings, a migrated database, and the exit-code-2 error path."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, NoReturn

import asyncpg

from fedi.database import connect
from fedi.migrate import migrate
from fedi.settings import Settings, load_settings

log = logging.getLogger(__name__)

USAGE_ERROR = 2


class Database:
    """The database URL in use, and the embedded server's handle when there is one.

    The embedded server's package (and psutil, platformdirs) is imported only when it is used: a
    deployment with DATABASE_URL does not carry it in every long-running process.
    """

    def __init__(self, settings: Settings) -> None:
        self.embedded: Any = None
        if settings.database_url:
            self.url = settings.database_url
        else:
            log.warning("DATABASE_URL is not set: using the embedded PostgreSQL in %s", settings.data_dir)
            embedded = importlib.import_module("fedi.embedded")
            self.url, self.embedded = embedded.start_embedded_postgres(settings.data_dir)

    def close(self) -> None:
        """Release the embedded server (it stops when no other fedi process uses it)."""
        if self.embedded is not None:
            self.embedded.cleanup()
            self.embedded = None


def fail(message: str) -> NoReturn:
    """Print a clear message and exit with status 2 (bad input; nothing was changed)."""
    print(f"fedi: error: {message}", file=sys.stderr)
    raise SystemExit(USAGE_ERROR)


def settings_from(args: argparse.Namespace, **overrides: object) -> Settings:
    """Settings from the environment, the ``--config`` file and command-line overrides."""
    return load_settings(config_file=getattr(args, "config", None), **overrides)


@asynccontextmanager
async def database_connection(settings: Settings) -> AsyncIterator[asyncpg.Connection]:
    """A connection to the configured (or embedded) database for a one-off command."""
    database = Database(settings)
    try:
        conn = await connect(database.url)
        try:
            yield conn
        finally:
            await conn.close()
    finally:
        database.close()


@asynccontextmanager
async def migrated_connection(settings: Settings) -> AsyncIterator[asyncpg.Connection]:
    """A connection to the database, its schema brought up to date first."""
    async with database_connection(settings) as conn:
        await migrate(conn)
        yield conn
