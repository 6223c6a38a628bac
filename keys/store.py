"""Creating, finding and rotating local actors' keys.

Key ids: the first key of an actor is ``<actor>#main-key`` (what every server expects); after a
rotation the new key is ``<actor>#key-<generation>``. Retired keys stay in the database so their
ids still resolve (as retired) and anything signed with them can be told apart from forgeries.
Generating a key costs ~50 ms of CPU, so callers that create many actors leave it to the
worker's background task (``actors.key_generation``) or generate them in a process pool
(``generate_many``) outside their transaction. Whoever generates an actor's first key holds a lock
on the actor's row meanwhile (``lock_for_generation``): ``ensure_active_key`` then waits for that
key instead of making a second one.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
from collections.abc import Iterator, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor

import asyncpg

from keys import queries
from keys.keypairs import GeneratedKeyPair, KeyVault
from keys.queries import KeyRecord

GENERATION_BATCH = 16  # actors locked at a time by ``ensure_keys``


def key_id_for(actor_uri: str, generation: int) -> str:
    """The public id of an actor's n-th key."""
    return f"{actor_uri}#main-key" if generation == 1 else f"{actor_uri}#key-{generation}"


async def store_key(
    conn: asyncpg.Connection, actor_id: int, actor_uri: str, pair: GeneratedKeyPair, generation: int = 1
) -> KeyRecord | None:
    """Store a generated pair as the actor's active key (None if it already has one)."""
    return await queries.insert_key(
        conn, actor_id, key_id_for(actor_uri, generation), generation, pair.public_key_pem, pair.private_key_encrypted
    )


async def ensure_active_key(
    conn: asyncpg.Connection, vault: KeyVault, actor_id: int, actor_uri: str
) -> KeyRecord:
    """The actor's active key, generating and storing the first one if it has none."""
    key = await queries.active_key(conn, actor_id)
    if key is not None:
        return key
    await conn.execute("SELECT 1 FROM actors WHERE id = $1 FOR NO KEY UPDATE", actor_id)  # a generation under way?
    key = await queries.active_key(conn, actor_id)
    if key is not None:
        return key
    generation = len(await queries.keys_of_actor(conn, actor_id)) + 1
    pair = await asyncio.to_thread(vault.generate)
    stored = await store_key(conn, actor_id, actor_uri, pair, generation)
    if stored is None:  # another process stored one meanwhile
        stored = await queries.active_key(conn, actor_id)
        assert stored is not None
    return stored


async def rotate_key(conn: asyncpg.Connection, vault: KeyVault, actor_id: int, actor_uri: str) -> tuple[KeyRecord | None, KeyRecord]:
    """Retire the actor's active key and make a new one; return (retired, new). Run inside a transaction."""
    pair = await asyncio.to_thread(vault.generate)
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext('fedi.keys'), $1::int)", actor_id % 2**31)
    retired = await queries.retire_active_key(conn, actor_id)
    generation = len(await queries.keys_of_actor(conn, actor_id)) + 1
    new = await store_key(conn, actor_id, actor_uri, pair, generation)
    assert new is not None
    return retired, new


async def generate_many(
    vault: KeyVault, count: int, workers: int | None = None, pool: Executor | None = None
) -> list[GeneratedKeyPair]:
    """Generate ``count`` key pairs in parallel processes (one per core by default, or in ``pool``)."""
    if count <= 4 and pool is None:
        return [await asyncio.to_thread(vault.generate) for _ in range(count)]
    loop = asyncio.get_running_loop()
    with contextlib.ExitStack() as stack:
        executor = pool or stack.enter_context(process_pool(workers))
        return list(await asyncio.gather(*(loop.run_in_executor(executor, vault.generate) for _ in range(count))))


@contextlib.contextmanager
def process_pool(workers: int | None = None) -> Iterator[ProcessPoolExecutor]:
    """Processes to generate keys in (started on first use, one per core by default)."""
    context = multiprocessing.get_context("spawn")  # no fork of a process holding connections
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        yield pool


async def lock_for_generation(conn: asyncpg.Connection, actor_ids: Sequence[int]) -> set[int]:
    """Lock, inside a transaction, the rows of those actors that have no active key and that no other
    generation holds; return their ids."""
    rows = await conn.fetch(
        """SELECT a.id FROM actors a
           WHERE a.id = ANY($1::bigint[])
             AND NOT EXISTS (SELECT 1 FROM keys k WHERE k.actor_id = a.id AND k.retired_at IS NULL)
           FOR NO KEY UPDATE OF a SKIP LOCKED""",
        list(actor_ids),
    )
    return {r["id"] for r in rows}


async def store_first_key(conn: asyncpg.Connection, actor_id: int, actor_uri: str, pair: GeneratedKeyPair) -> bool:
    """Store ``pair`` as the actor's active key if it still has none; whether it was stored."""
    generation = len(await queries.keys_of_actor(conn, actor_id)) + 1
    return await store_key(conn, actor_id, actor_uri, pair, generation) is not None


async def ensure_keys(
    conn: asyncpg.Connection, vault: KeyVault, actors: Sequence[tuple[int, str]], workers: int | None = None
) -> int:
    """Give every (actor id, actor uri) without an active key its first key; return how many were made.

    Keys are generated in a process pool, GENERATION_BATCH actors at a time, each batch in a transaction
    that locks its actors meanwhile: the background task skips them and a request needing one of their
    keys waits for the batch (well under a second), not for the whole run. Actors the background task
    is generating right now are left to it.
    """
    made = 0
    with process_pool(workers) as pool:
        for start in range(0, len(actors), GENERATION_BATCH):
            batch = actors[start:start + GENERATION_BATCH]
            async with conn.transaction():
                locked = await lock_for_generation(conn, [a for a, _ in batch])
                todo = [(a, uri) for a, uri in batch if a in locked]
                pairs = await generate_many(vault, len(todo), pool=pool)
                for (actor_id, uri), pair in zip(todo, pairs):
                    made += await store_first_key(conn, actor_id, uri, pair)
    return made
