"""Test data made through the same service functions the CLI uses."""

from __future__ import annotations

from typing import Any

import asyncpg

from actors.departments import create_department
from actors.queries import Actor, LocalActor
from actors.remote_documents import parse_actor
from actors.remote_queries import upsert_remote_actor
from actors.validation import department_input
from fedi.settings import Settings
from keys.keypairs import KeyVault


async def make_department(
    conn: asyncpg.Connection, settings: Settings, vault: KeyVault, username: str = "library", **properties: Any
) -> LocalActor:
    """A department with its key pair."""
    properties.setdefault("display_name", username.capitalize())
    return await create_department(conn, settings, vault, department_input(username, properties))


async def citizen(conn: asyncpg.Connection, username: str, host: str, shared_inbox: bool = True) -> Actor:
    """A remote actor stored as if just fetched (so resolving its handle needs no network)."""
    uri = f"https://{host}/users/{username}"
    document = {
        "id": uri, "type": "Person", "preferredUsername": username, "inbox": f"{uri}/inbox",
        "url": f"https://{host}/@{username}", "followers": f"{uri}/followers",
    }
    if shared_inbox:
        document["endpoints"] = {"sharedInbox": f"https://{host}/inbox"}
    return await upsert_remote_actor(conn, parse_actor(document))
