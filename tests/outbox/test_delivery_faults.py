"""Deliveries that go wrong: retries on schedule, Retry-After, permanent refusals, gone inboxes, paused hosts."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import asyncpg

from actors.queries import LocalActor
from fedi.http_client import HttpClient
from fedi.settings import Settings
from fedi.worker import Worker
from keys.keypairs import KeyVault
from outbox.deliveries import (
    OUTCOMES, RETRY_DELAYS, DeliveryTask, kind_of_status, mark_host_available, retry_after, retry_delay,
)
from outbox.fanout import enqueue_activity
from tests.factories import make_department
from tests.outbox.sinks import Reply, Sink, follow, note_activity, remote_actor
from tests.processes import free_port

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=timezone.utc)


def make_worker(pool: asyncpg.Pool, client: HttpClient, vault: KeyVault, batch_size: int = 100, timeout: float = 5.0) -> Worker:
    """A worker with only the delivery task."""
    return Worker(pool, [DeliveryTask(pool, client, vault, timeout=timeout)], batch_size=batch_size)


async def publish(conn: asyncpg.Connection, library: LocalActor, inboxes: list[str], number: int = 1) -> None:
    """Queue a note of the library's to ``inboxes``."""
    await enqueue_activity(conn, actor_id=library.id, activity=note_activity(library.uri, number), inboxes=inboxes)


async def delivery(conn: asyncpg.Connection, inbox: str | None = None) -> asyncpg.Record:
    """The (only, or given) delivery row with the seconds left until its next attempt."""
    row = await conn.fetchrow(
        """SELECT *, extract(epoch FROM next_attempt_at - now())::float8 AS wait FROM deliveries
           WHERE $1::text IS NULL OR inbox_url = $1""",
        inbox,
    )
    assert row is not None
    return row


async def fast_forward(conn: asyncpg.Connection) -> None:
    """Make every pending delivery due now, as the passing of time would."""
    await conn.execute("UPDATE deliveries SET next_attempt_at = now() WHERE state = 'pending'")


def test_outcomes_and_schedule() -> None:
    kinds = [kind_of_status(s) for s in (200, 202, 410, 404, 401, 400, 301, 408, 429, 500, 503)]
    assert kinds == ["accepted"] * 2 + ["gone"] + ["refused"] * 4 + ["server error", "busy", "server error", "server error"]
    assert {kind: outcome.state for kind, outcome in OUTCOMES.items()} == {
        "accepted": "delivered", "gone": "failed", "refused": "failed", "busy": "pending",
        "server error": "pending", "unreachable": "pending", "undeliverable": "failed", "our error": "pending",
    }
    assert 5.5 < sum(RETRY_DELAYS) / 86400 < 7.5  # about a week, as Mastodon
    rng = random.Random(1)
    assert all(0.9 * d <= (retry_delay(n, rng) or 0) <= 1.1 * d for n, d in enumerate(RETRY_DELAYS, start=1))
    assert retry_delay(len(RETRY_DELAYS) + 1, rng) is None
    assert retry_after("120", NOW) == 120
    assert retry_after(format_datetime(NOW + timedelta(minutes=5), usegmt=True), NOW) == 300
    assert retry_after(format_datetime(NOW - timedelta(minutes=5), usegmt=True), NOW) == 0
    assert retry_after("864000", NOW) == 86400
    assert retry_after("soon", NOW) is None and retry_after(None, NOW) is None


async def test_a_closed_port_is_retried_on_schedule_then_given_up(
    conn: asyncpg.Connection, pool: asyncpg.Pool, client: HttpClient, vault: KeyVault, library: LocalActor
) -> None:
    inbox = f"http://127.0.0.1:{free_port()}/inbox"
    await publish(conn, library, [inbox])
    worker = make_worker(pool, client, vault)
    for attempt, delay in enumerate(RETRY_DELAYS, start=1):
        assert await worker.run_once() == 1
        row = await delivery(conn)
        assert (row["state"], row["attempts"], row["last_status"]) == ("pending", attempt, None)
        assert "connection failed" in row["last_error"] and row["locked_until"] is None
        assert 0.9 * delay - 2 <= row["wait"] <= 1.1 * delay
        assert await worker.run_once() == 0  # not due yet
        await fast_forward(conn)
    assert await worker.run_once() == 1
    row = await delivery(conn)
    assert (row["state"], row["attempts"]) == ("failed", len(RETRY_DELAYS) + 1)
    assert row["last_error"].startswith(f"gave up after {len(RETRY_DELAYS) + 1} attempts")
    await fast_forward(conn)
    assert await worker.run_once() == 0
    host = await conn.fetchrow("SELECT * FROM hosts")
    assert host["consecutive_failures"] == len(RETRY_DELAYS) + 1 and host["failing_since"] is not None


async def test_a_server_error_is_retried_and_success_clears_the_host(
    conn: asyncpg.Connection, pool: asyncpg.Pool, client: HttpClient, vault: KeyVault, sink: Sink, library: LocalActor
) -> None:
    sink.answer(Reply(500))
    await publish(conn, library, [sink.url("/inbox")])
    worker = make_worker(pool, client, vault)
    await worker.run_once()
    row = await delivery(conn)
    assert (row["state"], row["attempts"], row["last_status"], row["last_error"]) == ("pending", 1, 500, "HTTP 500")
    assert (await conn.fetchval("SELECT consecutive_failures FROM hosts")) == 1
    sink.answer(Reply(202))
    await fast_forward(conn)
    await worker.run_once()
    row = await delivery(conn)
    assert (row["state"], row["attempts"], row["last_status"], row["last_error"]) == ("delivered", 2, 202, None)
    host = await conn.fetchrow("SELECT * FROM hosts")
    assert (host["consecutive_failures"], host["failing_since"], host["unavailable_until"]) == (0, None, None)
    assert host["last_success_at"] is not None
    assert len(sink.received) == 2


async def test_retry_after_is_honoured(
    conn: asyncpg.Connection, pool: asyncpg.Pool, client: HttpClient, vault: KeyVault, sink: Sink, library: LocalActor
) -> None:
    sink.answer(Reply(429, {"Retry-After": "120"}), "/throttled")
    later = datetime.now(timezone.utc) + timedelta(hours=3)
    sink.answer(Reply(503, {"Retry-After": format_datetime(later, usegmt=True)}), "/maintenance")
    sink.answer(Reply(503, {"Retry-After": str(30 * 86400)}), "/away")
    await publish(conn, library, [sink.url(p) for p in ("/throttled", "/maintenance", "/away")])
    await make_worker(pool, client, vault).run_once()
    throttled, maintenance, away = [await delivery(conn, sink.url(p)) for p in ("/throttled", "/maintenance", "/away")]
    assert throttled["state"] == "pending" and throttled["last_status"] == 429
    assert 120 - 2 <= throttled["wait"] <= 121
    assert 3 * 3600 - 5 <= maintenance["wait"] <= 3 * 3600 + 1
    assert 86400 - 5 <= away["wait"] <= 86401  # capped at a day
    # A busy host is up: 429 counts against it no more than against the delivery; 503 does.
    assert await conn.fetchval("SELECT consecutive_failures FROM hosts") == 2


async def test_a_gone_personal_inbox_removes_the_follower(
    conn: asyncpg.Connection, pool: asyncpg.Pool, client: HttpClient, vault: KeyVault, sink: Sink, library: LocalActor,
    settings: Settings,
) -> None:
    parks = await make_department(conn, settings, vault, "parks")
    gone = await remote_actor(conn, "b.test", inbox=sink.url("/users/gone/inbox", "b.test"))
    sharing = await remote_actor(conn, "b.test", shared_inbox=sink.url("/shared", "b.test"))
    for follower in (gone, sharing):
        await follow(conn, follower, library.id)
    await follow(conn, gone, parks.id)
    sink.answer(Reply(410))
    await publish(conn, library, [sink.url("/users/gone/inbox", "b.test"), sink.url("/shared", "b.test")])
    worker = make_worker(pool, client, vault)
    assert await worker.run_once() == 2
    states = {r["inbox_url"]: (r["state"], r["last_status"]) for r in await conn.fetch("SELECT * FROM deliveries")}
    assert set(states.values()) == {("failed", 410)}
    followers = await conn.fetch("SELECT follower_id, followee_id FROM follows ORDER BY follower_id")
    assert [tuple(r) for r in followers] == [(sharing, library.id)]  # a gone shared inbox says nothing of its users
    await fast_forward(conn)
    assert await worker.run_once() == 0
    assert await conn.fetchval("SELECT consecutive_failures FROM hosts") in (None, 0)


async def test_a_refusal_is_not_retried(
    conn: asyncpg.Connection, pool: asyncpg.Pool, client: HttpClient, vault: KeyVault, sink: Sink, library: LocalActor
) -> None:
    sink.answer(Reply(404))
    await publish(conn, library, [sink.url("/nobody"), "http://10.1.2.3/inbox"])
    worker = make_worker(pool, client, vault)
    assert await worker.run_once() == 2
    missing, private = await delivery(conn, sink.url("/nobody")), await delivery(conn, "http://10.1.2.3/inbox")
    assert (missing["state"], missing["last_status"], missing["attempts"]) == ("failed", 404, 1)
    assert (private["state"], private["last_status"]) == ("failed", None)
    assert "10.1.2.3" in private["last_error"]  # refused before connecting, never retried
    await fast_forward(conn)
    assert await worker.run_once() == 0 and len(sink.received) == 1


async def test_a_slow_server_times_out_and_is_retried(
    conn: asyncpg.Connection, pool: asyncpg.Pool, client: HttpClient, vault: KeyVault, sink: Sink, library: LocalActor
) -> None:
    sink.answer(Reply(202, delay=5), "/slow")
    sink.answer(Reply(hang=True), "/hung")
    await publish(conn, library, [sink.url("/slow"), sink.url("/hung")])
    await make_worker(pool, client, vault, timeout=0.3).run_once()
    for path in ("/slow", "/hung"):
        row = await delivery(conn, sink.url(path))
        assert (row["state"], row["attempts"], row["last_status"]) == ("pending", 1, None)
        assert "timed out" in row["last_error"] and 0.9 * 60 - 2 <= row["wait"] <= 66


async def test_a_sender_without_a_key_fails(
    conn: asyncpg.Connection, pool: asyncpg.Pool, client: HttpClient, vault: KeyVault, sink: Sink, library: LocalActor
) -> None:
    await conn.execute("UPDATE keys SET retired_at = now() WHERE actor_id = $1", library.id)
    await publish(conn, library, [sink.url("/inbox")])
    await make_worker(pool, client, vault).run_once()
    row = await delivery(conn)
    assert (row["state"], row["last_error"]) == ("failed", "the sender has no private key to sign with")
    assert sink.received == []


async def test_a_host_failing_for_days_is_paused_until_a_probe_succeeds(
    conn: asyncpg.Connection, pool: asyncpg.Pool, client: HttpClient, vault: KeyVault, sink: Sink, library: LocalActor
) -> None:
    sink.answer(Reply(503))
    await conn.execute(
        "INSERT INTO hosts (host, consecutive_failures, failing_since) VALUES ($1, 30, now() - interval '3 days 1 hour')",
        f"b.test:{sink.port}",
    )
    inboxes = [sink.url(f"/users/u{i}/inbox", "b.test") for i in range(4)]
    await publish(conn, library, inboxes)
    await make_worker(pool, client, vault, batch_size=1).run_once()  # one more failure pauses the host
    host = await conn.fetchrow("SELECT *, extract(epoch FROM unavailable_until - now())::float8 AS pause FROM hosts")
    assert host["consecutive_failures"] == 31 and 86400 - 5 <= host["pause"] <= 86400
    waits = [r["wait"] for r in await conn.fetch(
        "SELECT extract(epoch FROM next_attempt_at - now())::float8 AS wait FROM deliveries WHERE state = 'pending'"
    )]
    assert len(waits) == 4 and all(86400 - 5 <= w <= 86400 for w in waits)  # all wait for the pause to end

    await fast_forward(conn)
    worker = make_worker(pool, client, vault)
    assert await worker.run_once() == 0  # paused: nothing is claimed, however due
    await publish(conn, library, inboxes, number=2)
    assert await conn.fetchval("SELECT count(*) FROM deliveries WHERE state = 'skipped'") == 4

    # The pause ends: a single probe goes through; it fails, and the host is paused again.
    await conn.execute("UPDATE hosts SET unavailable_until = now() - interval '1 second'")
    await fast_forward(conn)
    assert await worker.run_once() == 1
    assert await worker.run_once() == 0
    assert len(sink.received) == 2
    assert await conn.fetchval("SELECT unavailable_until > now() + interval '23 hours' FROM hosts")

    # Next time the probe succeeds: the host is cleared and everything waiting goes out.
    sink.answer(Reply(202))
    await conn.execute("UPDATE hosts SET unavailable_until = now() - interval '1 second'")
    await fast_forward(conn)
    assert await worker.run_once() == 1
    host = await conn.fetchrow("SELECT * FROM hosts")
    assert (host["consecutive_failures"], host["failing_since"], host["unavailable_until"]) == (0, None, None)
    assert await worker.run_until_idle() == 3
    states = sorted(r["state"] for r in await conn.fetch("SELECT state FROM deliveries"))
    assert states == ["delivered"] * 4 + ["skipped"] * 4
    assert len(sink.received) == 6


async def test_a_host_that_talks_to_us_is_available_again(conn: asyncpg.Connection, library: LocalActor) -> None:
    await publish(conn, library, ["https://back.example/inbox"])
    await conn.execute(
        """INSERT INTO hosts (host, consecutive_failures, failing_since, unavailable_until)
           VALUES ('back.example', 50, now() - interval '5 days', now() + interval '1 day')"""
    )
    await conn.execute("UPDATE deliveries SET next_attempt_at = now() + interval '1 day'")  # waiting for the pause
    await publish(conn, library, ["https://back.example/inbox"], number=2)
    assert await conn.fetchval("SELECT count(*) FROM deliveries WHERE state = 'skipped'") == 1

    assert await mark_host_available(conn, "back.example") is True
    host = await conn.fetchrow("SELECT * FROM hosts")
    assert (host["consecutive_failures"], host["failing_since"], host["unavailable_until"]) == (0, None, None)
    assert await conn.fetchval("SELECT next_attempt_at <= now() FROM deliveries WHERE state = 'pending'")
    assert await mark_host_available(conn, "back.example") is False
    assert await mark_host_available(conn, "never-failed.example") is False
    await publish(conn, library, ["https://back.example/inbox"], number=3)
    assert await conn.fetchval("SELECT count(*) FROM deliveries WHERE state = 'pending'") == 2


async def test_an_unexpected_error_is_recorded_and_retried(
    conn: asyncpg.Connection, pool: asyncpg.Pool, client: HttpClient, vault: KeyVault, library: LocalActor
) -> None:
    await publish(conn, library, ["https://a.example/inbox"])
    task = DeliveryTask(pool, client, vault)
    [item] = await task.claim(10)
    assert await task.claim(10) == []  # locked
    await task.failed(item, RuntimeError("disk full"))
    row = await delivery(conn)
    assert (row["state"], row["attempts"], row["last_error"], row["locked_until"]) == ("pending", 1, "RuntimeError: disk full", None)
    assert 0.9 * 60 - 2 <= row["wait"] <= 66
    assert await conn.fetchval("SELECT count(*) FROM hosts") == 0  # not the host's fault
