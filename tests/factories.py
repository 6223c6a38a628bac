"""Test data made through the same service functions the CLI uses."""

from __future__ import annotations

from typing import Any

import asyncpg

from actors.departments import create_department
from actors.queries import LocalActor
from actors.validation import department_input
from fedi.settings import Settings
from keys.keypairs import KeyVault


async def make_department(
    conn: asyncpg.Connection, settings: Settings, vault: KeyVault, username: str = "library", **properties: Any
) -> LocalActor:
    """A department with its key pair."""
    properties.setdefault("display_name", username.capitalize())
    return await create_department(conn, settings, vault, department_input(username, properties))
