"""Creating, finding and rotating local actors' keys.

Key ids: the first key of an actor is ``<actor>#main-key`` (what every server expects); after a
rotation the new key is ``<actor>#key-<generation>``. Retired keys stay in the database so their
ids still resolve (as retired) and anything signed with them can be told apart from forgeries.
Generating a key costs ~50 ms of CPU, so callers that create many actors generate keys in a
process pool (``generate_many``) outside their transaction.
"""

from __future__ import annotations

import asyncio
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from typing import Sequence

import asyncpg

from keys import queries
from keys.keypairs import GeneratedKeyPair, KeyVault
from keys.queries import KeyRecord


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


async def generate_many(vault: KeyVault, count: int, workers: int | None = None) -> list[GeneratedKeyPair]:
    """Generate ``count`` key pairs in parallel processes (one per core by default)."""
    if count <= 4:
        return [await asyncio.to_thread(vault.generate) for _ in range(count)]
    loop = asyncio.get_running_loop()
    context = multiprocessing.get_context("spawn")  # no fork of a process holding connections
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        return list(await asyncio.gather(*(loop.run_in_executor(pool, vault.generate) for _ in range(count))))


async def ensure_keys(
    conn: asyncpg.Connection, vault: KeyVault, actors: Sequence[tuple[int, str]]
) -> int:
    """Give every (actor id, actor uri) without an active key its first key; return how many were made."""
    missing = set(await queries.actors_without_key(conn, [a for a, _ in actors]))
    todo = [(a, uri) for a, uri in actors if a in missing]
    pairs = await generate_many(vault, len(todo))
    made = 0
    for (actor_id, uri), pair in zip(todo, pairs):
        generation = len(await queries.keys_of_actor(conn, actor_id)) + 1
        if await store_key(conn, actor_id, uri, pair, generation) is not None:
            made += 1
    return made

