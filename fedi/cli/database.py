"""``fedi db``: bring the schema up to date, or show which migrations are pending."""

from __future__ import annotations

import argparse

from fedi.cli.context import database_connection, settings_from
from fedi.migrate import migrate, pending_migrations


def add_parsers(commands: argparse._SubParsersAction) -> None:
    """Register ``db migrate`` and ``db status``."""
    db = commands.add_parser("db", help="database schema").add_subparsers(dest="db_command", required=True)
    db.add_parser("migrate", help="apply pending migrations").set_defaults(handler=run_migrate)
    db.add_parser("status", help="list pending migrations").set_defaults(handler=run_status)


async def run_migrate(args: argparse.Namespace) -> int:
    """Apply pending migrations and say which."""
    async with database_connection(settings_from(args)) as conn:
        applied = await migrate(conn)
    for name in applied:
        print(f"applied {name}")
    print("database is up to date" if not applied else f"{len(applied)} migration(s) applied")
    return 0


async def run_status(args: argparse.Namespace) -> int:
    """Exit 1 and list them when migrations are pending."""
    async with database_connection(settings_from(args)) as conn:
        pending = await pending_migrations(conn)
    for migration in pending:
        print(f"pending {migration.name}")
    print("database is up to date" if not pending else f"{len(pending)} migration(s) pending")
    return 1 if pending else 0
