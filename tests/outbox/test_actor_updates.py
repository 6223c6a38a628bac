"""Profile changes reach followers' servers as ``Update`` of the actor."""

from __future__ import annotations

import asyncpg

from actors.departments import update_department
from actors.follow_queries import upsert_follow
from fedi.settings import Settings
from keys.keypairs import KeyVault
from outbox.actor_updates import send_profile_update
from tests.factories import citizen, make_department


async def test_followers_servers_get_the_new_profile(conn: asyncpg.Connection, settings: Settings, vault: KeyVault) -> None:
    library = await make_department(conn, settings, vault, "library", display_name="Library")
    for n, host in enumerate(("one.example", "one.example", "two.example")):
        follower = await citizen(conn, f"user{n}", host)
        await upsert_follow(conn, follower.id, library.id, f"https://{host}/follows/{n}", "accepted")
    updated = await update_department(conn, "library", {"display_name": "City Library"})
    assert await send_profile_update(conn, settings, vault, updated) == 2  # one per shared inbox
    activity = await conn.fetchval("SELECT payload FROM outbox_activities WHERE activity_type = 'Update'")
    assert activity["actor"] == library.uri and activity["id"].startswith(f"{library.uri}#updates/")
    assert activity["object"]["id"] == library.uri and activity["object"]["name"] == "City Library"
    assert activity["object"]["publicKey"]["id"] == f"{library.uri}#main-key"
    inboxes = {r["inbox_url"] for r in await conn.fetch("SELECT inbox_url FROM deliveries")}
    assert inboxes == {"https://one.example/inbox", "https://two.example/inbox"}
