"""Department accounts: create, update, delete, each with its key pair, and the instance actor."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any, Mapping

import asyncpg

from actors import queries
from actors.errors import Conflict, NotFound
from actors.queries import DEPARTMENT_TYPE, INSTANCE_TYPE, LocalActor
from actors.urls import department_urls, instance_actor_urls
from actors.validation import DepartmentInput, ProfileField, department_input
from fedi.settings import Settings
from fedi.text import plain_to_html
from keys.keypairs import KeyVault
from keys.store import ensure_active_key


def column_values(data: DepartmentInput) -> dict[str, Any]:
    """The stored columns for a department's validated properties."""
    return {
        "display_name": data.display_name,
        "summary": data.summary,
        "summary_html": plain_to_html(data.summary),
        "area": data.area,
        "avatar_url": data.avatar_url,
        "header_url": data.header_url,
        "fields": [asdict(f) for f in data.fields],
        "manually_approves_followers": data.manually_approves_followers,
        "discoverable": data.discoverable,
    }


def department_properties(department: LocalActor) -> DepartmentInput:
    """A stored department's properties in the shape they are validated and compared in."""
    return DepartmentInput(
        username=department.username,
        display_name=department.display_name,
        summary=department.summary,
        area=department.area,
        avatar_url=department.avatar_url,
        header_url=department.header_url,
        fields=tuple(ProfileField(f["name"], f["value"]) for f in department.fields),
        manually_approves_followers=department.manually_approves_followers,
        discoverable=department.discoverable,
    )


async def insert_department(conn: asyncpg.Connection, settings: Settings, data: DepartmentInput) -> LocalActor:
    """Store a new department without its key (callers creating many generate keys in bulk)."""
    if await queries.username_taken(conn, data.username):
        raise Conflict(f"department username {data.username!r} is taken (by a live or a deleted department)")
    uri = department_urls(settings.base_url, data.username).id
    return await queries.insert_local_actor(
        conn, uri, DEPARTMENT_TYPE, data.username, settings.domain, column_values(data)
    )


async def create_department(
    conn: asyncpg.Connection, settings: Settings, vault: KeyVault, data: DepartmentInput
) -> LocalActor:
    """Create a department and its first key pair."""
    department = await insert_department(conn, settings, data)
    await ensure_active_key(conn, vault, department.id, department.uri)
    return department


async def get_department(conn: asyncpg.Connection, username: str) -> LocalActor:
    """A live department by username, or NotFound."""
    department = await queries.local_actor_by_username(conn, username)
    if department is None:
        raise NotFound(f"no department named {username!r}")
    return department


async def update_department(conn: asyncpg.Connection, username: str, changes: Mapping[str, Any]) -> LocalActor:
    """Change some properties of a department (validated together with the ones kept)."""
    department = await get_department(conn, username)
    current = asdict(department_properties(department))
    del current["username"]
    data = department_input(department.username, {**current, **changes})
    return await queries.update_local_actor(conn, department.id, column_values(data))


async def delete_department(conn: asyncpg.Connection, username: str) -> LocalActor:
    """Delete a department: it disappears from discovery, its actor URL answers 410, its name stays taken."""
    department = await get_department(conn, username)
    await queries.delete_memberships_of_actor(conn, department.id)
    await queries.mark_actor_deleted(conn, department.id)
    return department


async def ensure_instance_actor(conn: asyncpg.Connection, settings: Settings) -> LocalActor:
    """The server's own actor (``/actor``), created on first use (its key comes with ensure_active_key)."""
    actor = await queries.local_actor_by_username(conn, settings.domain, INSTANCE_TYPE)
    if actor is None:
        await queries.insert_instance_actor(conn, instance_actor_urls(settings.base_url).id, settings.domain)
        actor = await queries.local_actor_by_username(conn, settings.domain, INSTANCE_TYPE)
        assert actor is not None
    return actor
