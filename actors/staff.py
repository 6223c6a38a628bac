"""Staff logins and their memberships (with a role) in departments."""

from __future__ import annotations

import asyncpg

from actors import queries
from actors.departments import get_department
from actors.errors import Conflict, NotFound
from actors.queries import Membership, Staff
from actors.validation import email as valid_email
from actors.validation import role as valid_role
from actors.validation import staff_username, text

MAX_STAFF_NAME = 100


async def add_staff(conn: asyncpg.Connection, username: str, display_name: str = "", email: str | None = None) -> Staff:
    """Create a staff login; the username and e-mail must be free."""
    username = staff_username(username)
    display_name = text("name", display_name, MAX_STAFF_NAME)
    email = valid_email(email)
    if await queries.staff_by_username(conn, username) is not None:
        raise Conflict(f"staff member {username!r} already exists")
    if email is not None and await queries.staff_by_email(conn, email) is not None:
        raise Conflict(f"e-mail address {email!r} belongs to another staff member")
    return await queries.insert_staff(conn, username, display_name, email)


async def get_staff(conn: asyncpg.Connection, username: str) -> Staff:
    """A staff member by login name, or NotFound."""
    staff = await queries.staff_by_username(conn, username)
    if staff is None:
        raise NotFound(f"no staff member named {username!r}")
    return staff


async def update_staff(
    conn: asyncpg.Connection, username: str, display_name: str | None = None, email: str | None = None
) -> Staff:
    """Change a staff member's name and/or e-mail (None keeps the current value)."""
    staff = await get_staff(conn, username)
    name = staff.display_name if display_name is None else text("name", display_name, MAX_STAFF_NAME)
    address = staff.email if email is None else valid_email(email)
    if address is not None and address.lower() != (staff.email or "").lower():
        other = await queries.staff_by_email(conn, address)
        if other is not None and other.id != staff.id:
            raise Conflict(f"e-mail address {address!r} belongs to another staff member")
    return await queries.update_staff(conn, staff.id, name, address)


async def remove_staff(conn: asyncpg.Connection, username: str) -> Staff:
    """Delete a staff login and all its memberships."""
    staff = await get_staff(conn, username)
    await queries.delete_staff(conn, staff.id)
    return staff


async def grant_membership(conn: asyncpg.Connection, username: str, department: str, role: str) -> bool:
    """Give a staff member a role in a department (or change it); True if anything changed."""
    role = valid_role(role)
    staff = await get_staff(conn, username)
    actor = await get_department(conn, department)
    return await queries.upsert_membership(conn, staff.id, actor.id, role)


async def revoke_membership(conn: asyncpg.Connection, username: str, department: str) -> None:
    """Take a staff member out of a department."""
    staff = await get_staff(conn, username)
    actor = await get_department(conn, department)
    if not await queries.delete_membership(conn, staff.id, actor.id):
        raise NotFound(f"{username!r} is not a member of {department!r}")


async def memberships_of(conn: asyncpg.Connection, username: str) -> list[Membership]:
    """The departments a staff member belongs to, with roles."""
    staff = await get_staff(conn, username)
    return await queries.memberships(conn, staff_id=staff.id)
