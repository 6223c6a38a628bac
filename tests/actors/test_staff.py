"""Staff logins and memberships: unique names and e-mails, roles granted, changed and revoked."""

from __future__ import annotations

import asyncpg
import pytest

from actors import queries
from actors.departments import delete_department, insert_department
from actors.errors import Conflict, NotFound, ValidationError
from actors.staff import (
    add_staff,
    get_staff,
    grant_membership,
    memberships_of,
    remove_staff,
    revoke_membership,
    update_staff,
)
from actors.validation import department_input
from fedi.settings import Settings


async def departments(conn: asyncpg.Connection, settings: Settings, *names: str) -> None:
    """Store departments (without keys) for memberships to point at."""
    for name in names:
        await insert_department(conn, settings, department_input(name, {}))


async def test_add_and_get(conn: asyncpg.Connection) -> None:
    staff = await add_staff(conn, "anna.svensson", " Anna Svensson ", "anna@city.example")
    assert (staff.username, staff.display_name, staff.email) == ("anna.svensson", "Anna Svensson", "anna@city.example")
    assert await get_staff(conn, "ANNA.SVENSSON") == staff


@pytest.mark.parametrize(
    ("username", "name", "email", "message"),
    [
        ("Anna", "", None, "invalid staff username 'Anna'"),
        ("anna svensson", "", None, "invalid staff username"),
        ("", "", None, "invalid staff username ''"),
        ("anna", "x" * 101, None, "name is too long"),
        ("anna", "", "not-an-address", "invalid e-mail address 'not-an-address'"),
    ],
)
async def test_invalid_input_is_refused(
    conn: asyncpg.Connection, username: str, name: str, email: str | None, message: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        await add_staff(conn, username, name, email)
    assert message in str(caught.value)
    assert await queries.list_staff(conn) == []


async def test_username_and_email_are_unique_ignoring_case(conn: asyncpg.Connection) -> None:
    await queries.insert_staff(conn, "Anna", "", "anna@city.example")  # as an older version could have stored it
    with pytest.raises(Conflict, match="staff member 'anna' already exists"):
        await add_staff(conn, "anna")
    with pytest.raises(Conflict, match="belongs to another staff member"):
        await add_staff(conn, "bob", email="ANNA@City.Example")
    assert len(await queries.list_staff(conn)) == 1


async def test_update_changes_only_what_is_given(conn: asyncpg.Connection) -> None:
    await add_staff(conn, "anna", "Anna", "anna@city.example")
    renamed = await update_staff(conn, "anna", display_name="Anna S.")
    assert (renamed.display_name, renamed.email) == ("Anna S.", "anna@city.example")
    moved = await update_staff(conn, "anna", email="a.s@city.example")
    assert (moved.display_name, moved.email) == ("Anna S.", "a.s@city.example")
    cleared = await update_staff(conn, "anna", email="")
    assert cleared.email is None
    recased = await update_staff(conn, "anna", email="A.S@city.example")
    assert recased.email == "A.S@city.example"


async def test_update_refuses_another_members_email_and_bad_values(conn: asyncpg.Connection) -> None:
    await add_staff(conn, "anna", "Anna", "anna@city.example")
    bob = await add_staff(conn, "bob", "Bob", "bob@city.example")
    with pytest.raises(Conflict, match="belongs to another staff member"):
        await update_staff(conn, "bob", email="Anna@city.example")
    with pytest.raises(ValidationError):
        await update_staff(conn, "bob", email="bob at city")
    with pytest.raises(NotFound, match="no staff member named 'carl'"):
        await update_staff(conn, "carl", display_name="Carl")
    assert await get_staff(conn, "bob") == bob


async def test_memberships_are_granted_changed_and_revoked(conn: asyncpg.Connection, settings: Settings) -> None:
    await departments(conn, settings, "library", "museum")
    await add_staff(conn, "anna")
    assert await grant_membership(conn, "anna", "library", "editor") is True
    assert await grant_membership(conn, "anna", "library", "editor") is False
    assert await grant_membership(conn, "anna", "museum", "viewer") is True
    assert await grant_membership(conn, "anna", "museum", "admin") is True
    assert [(m.department, m.role) for m in await memberships_of(conn, "anna")] == [
        ("library", "editor"), ("museum", "admin"),
    ]
    await revoke_membership(conn, "anna", "library")
    assert [m.department for m in await memberships_of(conn, "anna")] == ["museum"]
    with pytest.raises(NotFound, match="'anna' is not a member of 'library'"):
        await revoke_membership(conn, "anna", "library")


async def test_membership_errors(conn: asyncpg.Connection, settings: Settings) -> None:
    await departments(conn, settings, "library", "closed")
    await add_staff(conn, "anna")
    await delete_department(conn, "closed")
    with pytest.raises(ValidationError, match="invalid role 'boss'"):
        await grant_membership(conn, "anna", "library", "boss")
    with pytest.raises(NotFound, match="no staff member named 'bob'"):
        await grant_membership(conn, "bob", "library", "editor")
    with pytest.raises(NotFound, match="no department named 'museum'"):
        await grant_membership(conn, "anna", "museum", "editor")
    with pytest.raises(NotFound, match="no department named 'closed'"):
        await grant_membership(conn, "anna", "closed", "editor")
    with pytest.raises(NotFound):
        await revoke_membership(conn, "anna", "museum")
    assert await queries.memberships(conn) == []


async def test_remove_staff_takes_their_memberships(conn: asyncpg.Connection, settings: Settings) -> None:
    await departments(conn, settings, "library")
    await add_staff(conn, "anna", email="anna@city.example")
    await add_staff(conn, "bob")
    await grant_membership(conn, "anna", "library", "admin")
    await grant_membership(conn, "bob", "library", "viewer")
    await remove_staff(conn, "anna")
    assert [m.staff_username for m in await queries.memberships(conn)] == ["bob"]
    with pytest.raises(NotFound):
        await remove_staff(conn, "anna")
    assert (await add_staff(conn, "anna", email="anna@city.example")).username == "anna"
