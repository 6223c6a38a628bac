"""Key pairs at rest: encrypted, created once, rotated with the old id kept as retired."""

from __future__ import annotations

import asyncio

import aiohttp
import asyncpg
import pytest
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives import hashes

from fedi.database import connect
from fedi.settings import Settings
from keys import queries
from keys.errors import KeyDecryptionError
from keys.keypairs import KeyVault, public_pem
from keys.store import ensure_active_key, generate_many, rotate_key
from tests.factories import make_department

AP = {"Accept": "application/activity+json"}


async def test_private_key_is_encrypted_at_rest(conn: asyncpg.Connection, settings: Settings, vault: KeyVault) -> None:
    department = await make_department(conn, settings, vault, "library")
    key = await queries.active_key(conn, department.id)
    assert key is not None and key.private_key_encrypted is not None
    raw = bytes(key.private_key_encrypted)
    assert b"PRIVATE KEY" not in raw and b"\x30\x82" not in raw[:4]  # neither PEM nor DER
    private = vault.decrypt(raw)
    assert public_pem(private) == key.public_key_pem
    signature = private.sign(b"hello", padding.PKCS1v15(), hashes.SHA256())
    private.public_key().verify(signature, b"hello", padding.PKCS1v15(), hashes.SHA256())


async def test_wrong_server_secret_cannot_decrypt(conn: asyncpg.Connection, settings: Settings, vault: KeyVault) -> None:
    department = await make_department(conn, settings, vault, "library")
    key = await queries.active_key(conn, department.id)
    assert key is not None and key.private_key_encrypted is not None
    with pytest.raises(KeyDecryptionError, match="FEDI_SECRET_KEY"):
        KeyVault("another-secret-" + "y" * 40).decrypt(bytes(key.private_key_encrypted))


async def test_ensure_active_key_creates_one_key_even_when_racing(
    database_url: str, conn: asyncpg.Connection, settings: Settings, vault: KeyVault
) -> None:
    department = await make_department(conn, settings, vault, "library")
    await conn.execute("DELETE FROM keys WHERE actor_id = $1", department.id)
    others = [await connect(database_url) for _ in range(3)]
    try:
        keys = await asyncio.gather(*(ensure_active_key(c, vault, department.id, department.uri) for c in others))
    finally:
        for c in others:
            await c.close()
    assert len({k.key_id for k in keys}) == 1
    assert len(await queries.keys_of_actor(conn, department.id)) == 1


async def test_rotation_keeps_old_key_resolvable_as_retired(
    conn: asyncpg.Connection, settings: Settings, vault: KeyVault, server: str, http: aiohttp.ClientSession
) -> None:
    department = await make_department(conn, settings, vault, "library")
    first = await queries.active_key(conn, department.id)
    assert first is not None and first.key_id == "https://city.example/users/library#main-key"
    async with conn.transaction():
        retired, new = await rotate_key(conn, vault, department.id, department.uri)
    assert retired is not None and retired.key_id == first.key_id
    assert new.key_id == "https://city.example/users/library#key-2" and new.public_key_pem != first.public_key_pem
    old = await queries.key_by_key_id(conn, first.key_id)
    assert old is not None and old.retired and old.public_key_pem == first.public_key_pem
    async with http.get(f"{server}/users/library", headers=AP) as response:
        published = (await response.json(content_type=None))["publicKey"]
    assert published["id"] == new.key_id and published["publicKeyPem"] == new.public_key_pem
    async with conn.transaction():
        _, third = await rotate_key(conn, vault, department.id, department.uri)
    assert third.key_id.endswith("#key-3")
    states = [(k.generation, k.retired) for k in await queries.keys_of_actor(conn, department.id)]
    assert states == [(1, True), (2, True), (3, False)]


async def test_generate_many_in_processes_gives_distinct_usable_keys(vault: KeyVault) -> None:
    pairs = await generate_many(vault, 6, workers=2)
    assert len({p.public_key_pem for p in pairs}) == 6
    for pair in pairs:
        assert public_pem(vault.decrypt(pair.private_key_encrypted)) == pair.public_key_pem
