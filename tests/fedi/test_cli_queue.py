"""``fedi admin queue``: status, listing and retrying deliveries as a real command against a real database."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from fedi.settings import Settings
from keys.keypairs import KeyVault
from outbox.fanout import enqueue_activity
from tests.conftest import FediCommand
from tests.factories import make_department
from tests.outbox.sinks import note_activity
from tests.processes import refused


@pytest.fixture
async def queued(conn: asyncpg.Connection, settings: Settings, vault: KeyVault) -> dict[str, int]:
    """Four deliveries: due on a.example, waiting on a.example, failed on b.example, delivered on c.example."""
    library = await make_department(conn, settings, vault, "library")
    inboxes = {
        "due": "https://a.example/inbox", "waiting": "https://a.example/users/x/inbox",
        "failed": "https://b.example:8443/inbox", "delivered": "https://c.example/inbox",
    }
    await enqueue_activity(conn, actor_id=library.id, activity=note_activity(library.uri), inboxes=list(inboxes.values()))
    ids = {name: await conn.fetchval("SELECT id FROM deliveries WHERE inbox_url = $1", url) for name, url in inboxes.items()}
    await conn.execute("UPDATE deliveries SET next_attempt_at = now() - interval '10 minutes' WHERE id = $1", ids["due"])
    await conn.execute(
        "UPDATE deliveries SET next_attempt_at = now() + interval '1 hour', attempts = 2, last_status = 503,"
        " last_error = 'HTTP 503: busy' WHERE id = $1", ids["waiting"],
    )
    await conn.execute(
        "UPDATE deliveries SET state = 'failed', attempts = 15, last_status = 500, finished_at = now(),"
        " last_error = 'gave up after 15 attempts: HTTP 500' WHERE id = $1", ids["failed"],
    )
    await conn.execute(
        "UPDATE deliveries SET state = 'delivered', attempts = 1, last_status = 202, finished_at = now() WHERE id = $1",
        ids["delivered"],
    )
    await conn.execute("INSERT INTO hosts (host, unavailable_until) VALUES ('b.example:8443', now() + interval '1 day')")
    return ids


async def rows(conn: asyncpg.Connection) -> dict[int, dict[str, Any]]:
    """Every delivery's state, attempts and whether it is due now."""
    found = await conn.fetch("SELECT id, state, attempts, next_attempt_at <= now() AS due FROM deliveries")
    return {r["id"]: dict(r) for r in found}


async def test_status_counts_both_queues(fedi_command: FediCommand, queued: dict[str, int]) -> None:
    result = await fedi_command("admin", "queue", "status")
    assert result.status == 0, result
    assert result.lines[0] == "inbox items: pending 0, done 0, failed 0; due now 0"
    assert result.lines[1] == "deliveries: pending 2, delivered 1, failed 1, skipped 0; due now 1"
    assert result.lines[2].startswith("oldest due delivery: ") and int(result.lines[2].split()[3]) >= 600
    assert result.lines[3].startswith("host paused: b.example:8443 until ")


async def test_list_shows_one_delivery_per_line_with_filters(fedi_command: FediCommand, queued: dict[str, int]) -> None:
    everything = await fedi_command("admin", "queue", "list")
    assert everything.status == 0, everything
    assert everything.lines[0].split() == ["ID", "STATE", "HOST", "ATTEMPTS", "NEXT", "ATTEMPT", "LAST", "STATUS", "LAST", "ERROR"]
    assert [line.split()[0] for line in everything.lines[1:]][:2] == [str(queued["due"]), str(queued["waiting"])]
    assert len(everything.lines) == 5

    failed = await fedi_command("admin", "queue", "list", "--state", "failed")
    assert len(failed.lines) == 2
    cells = failed.lines[1].split()
    assert cells[:6] == [str(queued["failed"]), "failed", "b.example:8443", "15", "-", "500"]
    assert "gave up after 15 attempts: HTTP 500" in failed.lines[1]

    on_a = await fedi_command("admin", "queue", "list", "--host", "A.example", "--limit", "1")
    assert [line.split()[:3] for line in on_a.lines[1:]] == [[str(queued["due"]), "pending", "a.example"]]
    assert (await fedi_command("admin", "queue", "list", "--host", "nowhere.example")).lines == ["no deliveries"]


async def test_retry_by_id_makes_a_delivery_due_now(
    fedi_command: FediCommand, conn: asyncpg.Connection, queued: dict[str, int]
) -> None:
    result = await fedi_command("admin", "queue", "retry", str(queued["waiting"]), str(queued["delivered"]))
    assert result.status == 0, result
    assert result.lines == ["1 deliveries due now"]  # a delivered one is left alone
    after = await rows(conn)
    assert after[queued["waiting"]] == {"id": queued["waiting"], "state": "pending", "attempts": 2, "due": True}
    assert after[queued["delivered"]]["state"] == "delivered"


async def test_retry_failed_puts_them_back_to_pending_with_a_fresh_schedule(
    fedi_command: FediCommand, conn: asyncpg.Connection, queued: dict[str, int]
) -> None:
    result = await fedi_command("admin", "queue", "retry", "--failed")
    assert result.lines == ["1 deliveries due now"]
    assert (await rows(conn))[queued["failed"]] == {"id": queued["failed"], "state": "pending", "attempts": 0, "due": True}
    assert await conn.fetchval("SELECT finished_at FROM deliveries WHERE id = $1", queued["failed"]) is None


async def test_retry_by_host_lifts_its_pause(
    fedi_command: FediCommand, conn: asyncpg.Connection, queued: dict[str, int]
) -> None:
    result = await fedi_command("admin", "queue", "retry", "--host", "b.example:8443")
    assert result.lines == ["1 deliveries due now"]
    assert (await rows(conn))[queued["failed"]]["state"] == "pending"
    assert await conn.fetchval("SELECT unavailable_until FROM hosts WHERE host = 'b.example:8443'") is None
    status = await fedi_command("admin", "queue", "status")
    assert "hosts paused: none" in status.lines


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["retry"], "give delivery ids, --host HOST or --failed (exactly one of them)"),
        (["retry", "--failed", "--host", "a.example"], "give delivery ids, --host HOST or --failed"),
        (["retry", "12x"], "'12x' is not a delivery id"),
        (["retry", "999999"], "no delivery with id 999999"),
        (["retry", "--host", "bad host/"], "--host 'bad host/' is not a host name"),
        (["list", "--limit", "0"], "--limit must be between 1 and 10000"),
        (["list", "--host", "a.example/x"], "--host 'a.example/x' is not a host name"),
    ],
)
async def test_bad_input_exits_2_and_changes_nothing(
    fedi_command: FediCommand, conn: asyncpg.Connection, queued: dict[str, int], args: list[str], message: str
) -> None:
    before = await rows(conn)
    refused(await fedi_command("admin", "queue", *args), message)
    assert await rows(conn) == before


async def test_an_unknown_state_is_refused_by_the_parser(fedi_command: FediCommand) -> None:
    result = await fedi_command("admin", "queue", "list", "--state", "lost")
    assert result.status == 2 and "invalid choice: 'lost'" in result.err
