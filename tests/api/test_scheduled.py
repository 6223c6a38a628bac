"""Scheduled statuses: scheduling, listing, moving, cancelling, and the queue task publishing each exactly once."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta, timezone

import asyncpg

from actors.queries import LocalActor
from api.scheduling import ScheduledTask
from fedi.worker import Worker
from tests.api.content_fixtures import Caller
from tests.servers import RunningInstance

Call = Callable[[str | None], Caller]


def later(minutes: int = 10) -> str:
    return (datetime.now(timezone.utc) + timedelta(minutes=minutes)).isoformat()


async def make_due(conn: asyncpg.Connection) -> None:
    """Move every scheduled status into the past, as if the time had come."""
    await conn.execute("UPDATE scheduled_statuses SET scheduled_at = now() - interval '1 second', next_attempt_at = now()")


async def test_schedule_list_move_cancel(caller: Call, conn: asyncpg.Connection) -> None:
    reply = await caller("editor")("POST", "/api/v1/statuses", json={"status": "Later", "scheduled_at": later(), "visibility": "unlisted"})
    assert reply.status == 200
    scheduled = reply.body
    assert set(scheduled) == {"id", "scheduled_at", "params", "media_attachments"}
    assert scheduled["params"]["text"] == "Later" and scheduled["params"]["visibility"] == "unlisted"
    assert await conn.fetchval("SELECT count(*) FROM posts") == 0
    listed = await caller("viewer")("GET", "/api/v1/scheduled_statuses")
    assert [s["id"] for s in listed.body] == [scheduled["id"]]
    assert (await caller("museum")("GET", "/api/v1/scheduled_statuses")).body == []
    assert (await caller("museum")("GET", f"/api/v1/scheduled_statuses/{scheduled['id']}")).status == 404

    moved = await caller("editor")("PUT", f"/api/v1/scheduled_statuses/{scheduled['id']}", data={"scheduled_at": later(60)})
    assert moved.status == 200 and moved.body["scheduled_at"] > scheduled["scheduled_at"]
    too_soon = await caller("editor")("PUT", f"/api/v1/scheduled_statuses/{scheduled['id']}", data={"scheduled_at": later(1)})
    assert too_soon.status == 422
    assert (await caller("viewer")("DELETE", f"/api/v1/scheduled_statuses/{scheduled['id']}")).status == 403
    assert (await caller("museum")("DELETE", f"/api/v1/scheduled_statuses/{scheduled['id']}")).status == 404
    assert (await caller("editor")("DELETE", f"/api/v1/scheduled_statuses/{scheduled['id']}")).body == {}
    assert (await caller("editor")("GET", f"/api/v1/scheduled_statuses/{scheduled['id']}")).status == 404
    actions = [r["action"] for r in await conn.fetch("SELECT action FROM audit_log ORDER BY id")]
    assert actions == ["schedule", "reschedule", "unschedule"]


async def test_due_statuses_are_published_exactly_once(
    caller: Call, conn: asyncpg.Connection, instance: RunningInstance, run_scheduled: Callable[[], Awaitable[int]],
) -> None:
    for n in range(3):
        await caller("editor")("POST", "/api/v1/statuses", json={"status": f"Timed {n}", "scheduled_at": later()})
    assert await run_scheduled() == 0  # not due yet
    await make_due(conn)
    services = instance.services
    workers = [Worker(services.pool, [ScheduledTask(services.pool, services.resolver, services.settings)]) for _ in range(3)]
    await asyncio.gather(*(w.run_until_idle() for w in workers))
    posts = await conn.fetch("SELECT source, staff_id FROM posts ORDER BY id")
    assert sorted(p["source"] for p in posts) == ["Timed 0", "Timed 1", "Timed 2"]
    assert {p["staff_id"] for p in posts} == {await conn.fetchval("SELECT id FROM staff WHERE username = 'anna'")}
    assert await conn.fetchval("SELECT count(*) FROM scheduled_statuses WHERE state = 'published'") == 3
    assert await run_scheduled() == 0
    assert (await caller("editor")("GET", "/api/v1/scheduled_statuses")).body == []


async def test_a_staff_member_who_left_cannot_publish(
    caller: Call, conn: asyncpg.Connection, library: LocalActor, run_scheduled: Callable[[], Awaitable[int]],
) -> None:
    await caller("editor")("POST", "/api/v1/statuses", json={"status": "Orphan", "scheduled_at": later()})
    await conn.execute("UPDATE memberships SET role = 'viewer' WHERE actor_id = $1", library.id)
    await make_due(conn)
    await run_scheduled()
    row = await conn.fetchrow("SELECT state, last_error FROM scheduled_statuses")
    assert row["state"] == "failed" and "may no longer post" in row["last_error"]
    assert await conn.fetchval("SELECT count(*) FROM posts") == 0


async def test_idempotent_scheduling_and_errors(caller: Call, conn: asyncpg.Connection) -> None:
    body = {"status": "Once later", "scheduled_at": later()}
    first = await caller("editor")("POST", "/api/v1/statuses", json=body, headers={"Idempotency-Key": "k"})
    again = await caller("editor")("POST", "/api/v1/statuses", json=body, headers={"Idempotency-Key": "k"})
    assert first.body["id"] == again.body["id"]
    assert await conn.fetchval("SELECT count(*) FROM scheduled_statuses") == 1
    assert (await caller("viewer")("POST", "/api/v1/statuses", json=body)).status == 403
    assert (await caller(None)("GET", "/api/v1/scheduled_statuses")).status == 401
    bad = await caller("editor")("POST", "/api/v1/statuses", json={"status": "x", "scheduled_at": "tomorrow"})
    assert bad.status == 422 and "scheduled_at" in bad.body["error"]
    assert (await caller("editor")("GET", "/api/v1/scheduled_statuses/abc")).status == 404
