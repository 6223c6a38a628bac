"""Telling followers' servers that a department's profile changed: ``Update`` with the actor document."""

from __future__ import annotations

import time
from typing import Any

import asyncpg

from actors.documents import AS_PUBLIC, render_department
from actors.queries import Actor
from actors.urls import department_urls
from fedi.settings import Settings
from keys.keypairs import KeyVault
from keys.store import ensure_active_key
from outbox.fanout import enqueue_activity, follower_inboxes


async def build_profile_update(conn: asyncpg.Connection, settings: Settings, vault: KeyVault, department: Actor) -> dict[str, Any]:
    """``Update{Organization}`` carrying the department's current actor document, as Mastodon sends it."""
    key = await ensure_active_key(conn, vault, department.id, department.uri)
    document = render_department(department, department_urls(settings.base_url, department.username), key)
    context = document.pop("@context")
    return {
        "@context": context,
        "id": f"{department.uri}#updates/{time.time_ns() // 1_000_000}",
        "type": "Update",
        "actor": department.uri,
        "to": [AS_PUBLIC],
        "object": document,
    }


async def send_profile_update(conn: asyncpg.Connection, settings: Settings, vault: KeyVault, department: Actor) -> int:
    """Queue the profile ``Update`` to every follower's server; return how many deliveries were queued."""
    activity = await build_profile_update(conn, settings, vault, department)
    return await enqueue_activity(
        conn, actor_id=department.id, activity=activity, inboxes=await follower_inboxes(conn, department.id)
    )
