"""Staff passwords: Argon2id hashes, and ``fedi admin staff password`` setting them."""

from __future__ import annotations

import aiohttp
import asyncpg
import pytest

from actors.queries import LocalActor
from actors.staff import add_staff, grant_membership
from actors.passwords import PasswordRejected, check_new_password, hash_password, verify_password
from api.tokens import issue_token
from tests.api.browser import authorize, browser
from tests.conftest import FediCommand
from tests.processes import refused


def test_hashes_are_argon2id_and_verify() -> None:
    stored = hash_password("a long enough secret")
    assert stored.startswith("$argon2id$")
    assert verify_password(stored, "a long enough secret")
    assert not verify_password(stored, "a long enough secreT")
    assert not verify_password(None, "a long enough secret")
    assert not verify_password("not a hash", "a long enough secret")


@pytest.mark.parametrize(("password", "words"), [("short", "at least 10"), (" " * 12, "only spaces"), ("x" * 1025, "at most 1024")])
def test_new_passwords_follow_the_rules(password: str, words: str) -> None:
    with pytest.raises(PasswordRejected, match=words):
        check_new_password(password)


async def test_the_command_sets_the_password_used_to_log_in(
    fedi_command: FediCommand, conn: asyncpg.Connection, library: LocalActor, server: str, app: dict[str, str]
) -> None:
    staff = await add_staff(conn, "clerk")
    await grant_membership(conn, "clerk", "library", "editor")
    old = await issue_token(conn, scopes="read", staff_id=staff.id, actor_id=library.id)
    result = await fedi_command("admin", "staff", "password", "clerk", stdin="a new pass phrase\n")
    assert result.status == 0, result.err
    assert result.lines == ["set the password of clerk", "revoked 1 token(s): apps must log in again"]
    stored = await conn.fetchval("SELECT password_hash FROM staff WHERE id = $1", staff.id)
    assert stored.startswith("$argon2id$") and "a new pass phrase" not in stored
    assert await conn.fetchval("SELECT revoked_at IS NOT NULL FROM oauth_tokens WHERE id = $1", old.id)
    async with browser() as session:
        outcome = await authorize(session, server, app["client_id"], "clerk", "a new pass phrase")
    assert outcome.code


async def test_the_command_refuses_short_passwords_and_unknown_staff(
    fedi_command: FediCommand, conn: asyncpg.Connection
) -> None:
    await add_staff(conn, "clerk")
    refused(await fedi_command("admin", "staff", "password", "clerk", stdin="short\n"),
            "the password must have at least 10 characters; nothing was changed")
    assert await conn.fetchval("SELECT password_hash FROM staff WHERE username = 'clerk'") is None
    refused(await fedi_command("admin", "staff", "password", "nobody", stdin="long enough password\n"),
            "no staff member named 'nobody'")


async def test_a_staff_member_without_a_password_cannot_log_in(
    conn: asyncpg.Connection, library: LocalActor, server: str, app: dict[str, str], http: aiohttp.ClientSession
) -> None:
    await add_staff(conn, "clerk")
    await grant_membership(conn, "clerk", "library", "editor")
    async with browser() as session:
        outcome = await authorize(session, server, app["client_id"], "clerk", "")
    assert "Wrong username or password." in outcome.text
