"""``fedi admin block|unblock|moderator``: the real console script against the test's database."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import asyncpg
import pytest

from actors.follows import record_follow
from actors.staff import add_staff
from fedi.settings import Settings
from keys.keypairs import KeyVault
from tests.conftest import FediCommand
from tests.factories import citizen, make_department
from tests.processes import Result, refused

Fedi = Callable[..., Awaitable[Result]]


@pytest.fixture
def fedi(fedi_command: FediCommand) -> Fedi:
    """Run ``fedi admin ...`` against the test's database."""
    return lambda *args: fedi_command("admin", *args)


async def snapshot(conn: asyncpg.Connection) -> list[list[tuple[object, ...]]]:
    """Every row of the tables the block commands write."""
    tables = ("blocked_domains", "blocked_actors", "follows", "staff")
    return [[tuple(r) for r in await conn.fetch(f"SELECT * FROM {t} ORDER BY 1")] for t in tables]


async def test_blocking_a_domain_removes_its_follows_until_unblocked(
    fedi: Fedi, conn: asyncpg.Connection, settings: Settings, vault: KeyVault
) -> None:
    library = await make_department(conn, settings, vault, "library")
    erin = await citizen(conn, "erin", "social.spam.example")
    await record_follow(conn, erin, library, "https://social.spam.example/follows/1")

    blocked = await fedi("block", "domain", "Spam.Example", "--comment", "spam wave", "--public-comment", "Spam")
    assert blocked.status == 0, blocked.err
    assert blocked.lines == ["blocked domain spam.example and its subdomains; removed 1 follow(s)"]
    assert await conn.fetchval("SELECT count(*) FROM follows") == 0
    listing = await fedi("block", "list")
    assert listing.lines[0].split() == ["KIND", "BLOCKED", "SINCE", "COMMENT", "PUBLIC", "COMMENT"]
    assert listing.lines[1].split()[:2] == ["domain", "spam.example"]
    assert listing.lines[1].endswith("spam wave  Spam")

    unblocked = await fedi("unblock", "domain", "spam.example")
    assert unblocked.lines == ["unblocked domain spam.example"]
    assert (await fedi("block", "list")).lines == ["no blocks"]


async def test_blocking_an_actor_by_id_or_handle(fedi: Fedi, conn: asyncpg.Connection) -> None:
    erin = await citizen(conn, "erin", "fine.example")
    by_handle = await fedi("block", "actor", "@erin@fine.example", "--comment", "harassment")
    assert by_handle.lines == [f"blocked actor {erin.uri}; removed 0 follow(s)"], by_handle.err
    by_id = await fedi("block", "actor", "https://fine.example/users/frank")  # not seen yet: blocked all the same
    assert by_id.lines == ["blocked actor https://fine.example/users/frank; removed 0 follow(s)"]
    listing = (await fedi("block", "list")).lines
    assert [line.split()[:2] for line in listing[1:]] == [
        ["actor", "https://fine.example/users/frank"], ["actor", erin.uri],
    ]
    assert (await fedi("unblock", "actor", "erin@fine.example")).lines == [f"unblocked actor {erin.uri}"]
    assert (await fedi("unblock", "actor", "https://fine.example/users/frank")).status == 0
    assert await conn.fetchval("SELECT count(*) FROM blocked_actors") == 0


async def test_bad_block_commands_change_nothing(fedi: Fedi, conn: asyncpg.Connection) -> None:
    assert (await fedi("block", "domain", "spam.example")).status == 0
    before = await snapshot(conn)
    refused(await fedi("block", "domain", "not a domain"), "'not a domain' is not a domain name")
    refused(await fedi("block", "domain", "SPAM.example"), "spam.example is blocked already")
    refused(await fedi("block", "domain", "example"), "a block of example would cover this server's own domain")
    refused(await fedi("unblock", "domain", "fine.example"), "fine.example is not blocked")
    refused(
        await fedi("block", "actor", "https://city.example/users/library"),
        "https://city.example/users/library is one of this server's actors: only remote actors can be blocked",
    )
    refused(await fedi("block", "actor", "ftp://fine.example/erin"), "'ftp://fine.example/erin' is not an actor id")
    refused(await fedi("block", "actor", "@mallory@spam.example"), "mallory@spam.example: spam.example is blocked by this instance")
    refused(await fedi("unblock", "actor", "@nobody@fine.example"), "no known actor @nobody@fine.example")
    refused(await fedi("unblock", "actor", "https://fine.example/users/nobody"), "https://fine.example/users/nobody is not blocked")
    assert await snapshot(conn) == before


async def test_granting_and_revoking_the_moderator_flag(fedi: Fedi, conn: asyncpg.Connection) -> None:
    await add_staff(conn, "anna.svensson")
    assert (await fedi("moderator", "list")).lines == ["no moderators"]
    assert (await fedi("moderator", "grant", "anna.svensson")).lines == ["anna.svensson is a moderator"]
    assert (await fedi("moderator", "grant", "anna.svensson")).lines == ["anna.svensson is a moderator (unchanged)"]
    assert (await fedi("moderator", "list")).lines == ["anna.svensson"]
    assert await conn.fetchval("SELECT is_moderator FROM staff WHERE username = 'anna.svensson'") is True
    assert (await fedi("moderator", "revoke", "anna.svensson")).lines == ["anna.svensson is not a moderator"]
    before = await snapshot(conn)
    refused(await fedi("moderator", "grant", "nobody"), "no staff member named 'nobody'")
    assert await snapshot(conn) == before
