"""Numbered ``.sql`` migrations, applied once each, in order, under an advisory lock.

Each file ``fedi/migrations/NNNN_name.sql`` runs in its own transaction and is recorded with its
SHA-256 in ``schema_migrations``. Several processes may start at once: the advisory lock makes the
others wait and then find nothing left to do. A recorded migration whose file changed is an error.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from importlib import resources

import asyncpg

from fedi.errors import MigrationError

log = logging.getLogger(__name__)

ADVISORY_LOCK_ID = 0x0FED1  # any constant shared by every fedi process
FILE_RE = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


@dataclass(frozen=True)
class Migration:
    """One migration file."""

    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        """SHA-256 of the file's text."""
        return hashlib.sha256(self.sql.encode()).hexdigest()


def load_migrations() -> list[Migration]:
    """The migration files shipped in the package, ordered by number."""
    found = []
    for entry in resources.files("fedi.migrations").iterdir():
        match = FILE_RE.match(entry.name)
        if match:
            found.append(Migration(int(match.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"two migration files share a number: {versions}")
    return found


async def applied_migrations(conn: asyncpg.Connection) -> dict[int, str]:
    """Version -> checksum of the migrations recorded in the database."""
    exists = await conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL")
    if not exists:
        return {}
    rows = await conn.fetch("SELECT version, checksum FROM schema_migrations")
    return {r["version"]: r["checksum"] for r in rows}


async def pending_migrations(conn: asyncpg.Connection) -> list[Migration]:
    """Migrations not yet applied; raises if an applied one no longer matches its file."""
    applied = await applied_migrations(conn)
    pending = []
    for migration in load_migrations():
        checksum = applied.get(migration.version)
        if checksum is None:
            pending.append(migration)
        elif checksum != migration.checksum:
            raise MigrationError(
                f"migration {migration.name} was changed after it was applied; add a new migration instead"
            )
    return pending


async def migrate(conn: asyncpg.Connection) -> list[str]:
    """Apply every pending migration; return the names applied."""
    await conn.execute("SELECT pg_advisory_lock($1)", ADVISORY_LOCK_ID)
    try:
        await conn.execute(
            """CREATE TABLE IF NOT EXISTS schema_migrations (
                   version integer PRIMARY KEY,
                   name text NOT NULL,
                   checksum text NOT NULL,
                   applied_at timestamptz NOT NULL DEFAULT now())"""
        )
        done = []
        for migration in await pending_migrations(conn):
            async with conn.transaction():
                await conn.execute(migration.sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                    migration.version,
                    migration.name,
                    migration.checksum,
                )
            log.info("applied migration %s", migration.name)
            done.append(migration.name)
        return done
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", ADVISORY_LOCK_ID)
