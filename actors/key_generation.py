"""Generating departments' first key pairs in the background: the ``keys`` queue task.

An RSA-2048 key pair costs ~50 ms of CPU, half a minute for the 500 departments of a city, so
``fedi admin apply`` creates departments without one and the worker makes them afterwards. The queue
is the set of live departments without an active key; there is no table of its own. A claim lists
them, skipping those being generated elsewhere (their row is locked); each is then processed in its
own transaction that locks the department's row (``FOR NO KEY UPDATE SKIP LOCKED``: posts and
follows referring to it are not held up), checks it still has no key, generates the pair in a thread
and stores it. A department needed before its turn gets its key from ``ensure_active_key`` at once,
which waits for a generation in progress rather than start a second one. A failed generation (the
database, in practice) is tried again by this worker after RETRY_SECONDS.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import asyncpg

from actors.queries import DEPARTMENT_TYPE
from keys.keypairs import KeyVault
from keys.store import ensure_active_key, ensure_keys, lock_for_generation, store_first_key

log = logging.getLogger(__name__)

RETRY_SECONDS = 60.0
CLAIM_LIMIT = 8  # departments per claim: a stopping worker finishes these (well under a second) first

_PENDING = """a.local AND a.actor_type = $1 AND a.deleted_at IS NULL
    AND NOT EXISTS (SELECT 1 FROM keys k WHERE k.actor_id = a.id AND k.retired_at IS NULL)"""


@dataclass(frozen=True)
class PendingKey:
    """A department waiting for its first key pair."""

    actor_id: int
    uri: str
    username: str


async def pending_departments(
    conn: asyncpg.Connection, limit: int | None = None, skip: Sequence[int] = (), *, skip_locked: bool = True
) -> list[PendingKey]:
    """Live departments without an active key, oldest first, except those whose key is being generated
    (unless ``skip_locked`` is false) and the ids in ``skip``."""
    rows = await conn.fetch(
        f"""SELECT a.id, a.uri, a.username FROM actors a
            WHERE {_PENDING} AND a.id <> ALL($2::bigint[])
            ORDER BY a.id LIMIT $3
            {"FOR NO KEY UPDATE OF a SKIP LOCKED" if skip_locked else ""}""",
        DEPARTMENT_TYPE, list(skip), limit,
    )
    return [PendingKey(r["id"], r["uri"], r["username"]) for r in rows]


async def count_pending(conn: asyncpg.Connection) -> int:
    """How many live departments have no active key yet."""
    return int(await conn.fetchval(f"SELECT count(*) FROM actors a WHERE {_PENDING}", DEPARTMENT_TYPE))


class KeyGenerationTask:
    """The queue task giving each department without a key its first key pair."""

    name = "keys"

    def __init__(
        self, pool: asyncpg.Pool, vault: KeyVault, *, concurrency: int = 1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.pool = pool
        self.vault = vault
        self.concurrency = concurrency  # one core: the other stays free for requests
        self.clock = clock
        self._retry_at: dict[int, float] = {}  # actor id -> when a failed generation may be tried again

    async def claim(self, limit: int) -> Sequence[PendingKey]:
        """Up to ``limit`` (at most CLAIM_LIMIT) departments without a key, except those that failed a moment ago."""
        now = self.clock()
        self._retry_at = {a: at for a, at in self._retry_at.items() if at > now}
        async with self.pool.acquire() as conn:
            return await pending_departments(conn, min(limit, CLAIM_LIMIT), sorted(self._retry_at))

    async def process(self, item: PendingKey) -> None:
        """Lock the department, generate its key pair and store it, unless it got one meanwhile."""
        async with self.pool.acquire() as conn, conn.transaction():
            if not await lock_for_generation(conn, [item.actor_id]):
                return  # it has a key by now, or another worker is making it
            pair = await asyncio.to_thread(self.vault.generate)
            if await store_first_key(conn, item.actor_id, item.uri, pair):
                log.info("generated the key pair of department %s", item.username)

    async def failed(self, item: PendingKey, error: BaseException) -> None:
        """Leave the department aside for RETRY_SECONDS (the error is logged by the worker)."""
        self._retry_at[item.actor_id] = self.clock() + RETRY_SECONDS


async def generate_pending_keys(conn: asyncpg.Connection, vault: KeyVault, workers: int | None = None) -> int:
    """Generate now, in a process pool, the key pair of every department without one; return how many
    were made here. Those the worker is generating meanwhile are waited for, so all have a key on return."""
    pending = await pending_departments(conn, skip_locked=False)
    made = await ensure_keys(conn, vault, [(p.actor_id, p.uri) for p in pending], workers)
    for department in pending:
        await ensure_active_key(conn, vault, department.actor_id, department.uri)
    return made
