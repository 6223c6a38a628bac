"""SQL for actors, staff and memberships: each function takes the caller's connection first."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from keys.queries import KeyRecord

DEPARTMENT_TYPE = "Organization"
INSTANCE_TYPE = "Application"


@dataclass(frozen=True)
class Actor:
    """An actor as stored: a department, the instance actor, or a remote actor (``local`` false)."""

    id: int
    uri: str
    actor_type: str
    username: str
    domain: str
    display_name: str
    summary: str
    summary_html: str
    area: str
    avatar_url: str | None
    header_url: str | None
    fields: list[dict[str, str]]
    manually_approves_followers: bool
    discoverable: bool
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None
    local: bool = True
    inbox_url: str | None = None
    shared_inbox_url: str | None = None
    outbox_url: str | None = None
    followers_url: str | None = None
    following_url: str | None = None
    featured_url: str | None = None
    url: str | None = None
    fetched_at: datetime | None = None

    @property
    def handle(self) -> str:
        """``username@domain``, as mentions are written."""
        return f"{self.username}@{self.domain}"


LocalActor = Actor  # the name used where only local actors can occur


@dataclass(frozen=True)
class Staff:
    """A staff member's login."""

    id: int
    username: str
    display_name: str
    email: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class Membership:
    """A staff member's role in a department."""

    staff_id: int
    staff_username: str
    actor_id: int
    department: str
    role: str


ACTOR_COLUMNS = (
    "id, uri, actor_type, username, domain, display_name, summary, summary_html, area, avatar_url, "
    "header_url, fields, manually_approves_followers, discoverable, created_at, updated_at, deleted_at, "
    "local, inbox_url, shared_inbox_url, outbox_url, followers_url, following_url, featured_url, url, fetched_at"
)
_STAFF = "id, username, display_name, email, created_at, updated_at"
_MEMBERSHIP = """SELECT m.staff_id, s.username AS staff_username, m.actor_id, a.username AS department, m.role
                 FROM memberships m JOIN staff s ON s.id = m.staff_id JOIN actors a ON a.id = m.actor_id"""
# Columns a department update may set.
DEPARTMENT_COLUMNS = (
    "display_name", "summary", "summary_html", "area", "avatar_url", "header_url", "fields",
    "manually_approves_followers", "discoverable",
)


def _actor(row: asyncpg.Record | None) -> LocalActor | None:
    return None if row is None else LocalActor(**dict(row))


async def insert_local_actor(
    conn: asyncpg.Connection, uri: str, actor_type: str, username: str, domain: str, values: dict[str, Any]
) -> LocalActor:
    """Create a local actor row; ``values`` may hold any of DEPARTMENT_COLUMNS."""
    names = [c for c in DEPARTMENT_COLUMNS if c in values]
    columns = "".join(f", {n}" for n in names)
    placeholders = "".join(f", ${i}" for i in range(5, 5 + len(names)))
    row = await conn.fetchrow(
        f"""INSERT INTO actors (uri, local, actor_type, username, domain{columns})
            VALUES ($1, true, $2, $3, $4{placeholders})
            RETURNING {ACTOR_COLUMNS}""",
        uri, actor_type, username, domain, *[values[n] for n in names],
    )
    actor = _actor(row)
    assert actor is not None
    return actor


async def insert_instance_actor(conn: asyncpg.Connection, uri: str, domain: str) -> None:
    """Create the instance actor (username = the domain) unless another process just did."""
    await conn.execute(
        """INSERT INTO actors (uri, local, actor_type, username, domain, manually_approves_followers, discoverable)
           VALUES ($1, true, $2, $3, $3, true, false) ON CONFLICT DO NOTHING""",
        uri, INSTANCE_TYPE, domain,
    )


async def update_local_actor(conn: asyncpg.Connection, actor_id: int, values: dict[str, Any]) -> LocalActor:
    """Set some of DEPARTMENT_COLUMNS on a local actor and bump ``updated_at``."""
    names = [c for c in DEPARTMENT_COLUMNS if c in values]
    assignments = "".join(f", {n} = ${i}" for i, n in enumerate(names, start=2))
    row = await conn.fetchrow(
        f"UPDATE actors SET updated_at = now(){assignments} WHERE id = $1 AND local RETURNING {ACTOR_COLUMNS}",
        actor_id, *[values[n] for n in names],
    )
    actor = _actor(row)
    assert actor is not None
    return actor


async def mark_actor_deleted(conn: asyncpg.Connection, actor_id: int) -> None:
    """Mark a local actor deleted; its username stays taken."""
    await conn.execute("UPDATE actors SET deleted_at = now(), updated_at = now() WHERE id = $1", actor_id)


async def local_actor_by_username(
    conn: asyncpg.Connection, username: str, actor_type: str = DEPARTMENT_TYPE, include_deleted: bool = False
) -> LocalActor | None:
    """A local actor by username (case-insensitive); None for a name PostgreSQL could not even compare."""
    if "\x00" in username:  # text cannot hold NUL: no actor has such a name
        return None
    row = await conn.fetchrow(
        f"""SELECT {ACTOR_COLUMNS} FROM actors
            WHERE local AND lower(username) = lower($1) AND actor_type = $2
              AND ($3 OR deleted_at IS NULL)""",
        username, actor_type, include_deleted,
    )
    return _actor(row)


_KEY_COLUMNS = (
    ("id", "key_pk"), ("actor_id", "key_actor_id"), ("key_id", "key_id"), ("generation", "key_generation"),
    ("public_key_pem", "key_public_key_pem"), ("private_key_encrypted", "key_private_key_encrypted"),
    ("created_at", "key_created_at"), ("retired_at", "key_retired_at"),
)
_A_COLUMNS = ", ".join(f"a.{c}" for c in ACTOR_COLUMNS.split(", "))
_ACTOR_NAMES = ACTOR_COLUMNS.split(", ")


async def local_actor_with_key(
    conn: asyncpg.Connection, username: str, actor_type: str = DEPARTMENT_TYPE
) -> tuple[LocalActor, KeyRecord | None] | None:
    """A local actor by username (case-insensitive, deleted ones too) with its active key, in one query."""
    row = await conn.fetchrow(
        f"""SELECT {_A_COLUMNS}, {', '.join(f'k.{c} AS {alias}' for c, alias in _KEY_COLUMNS)}
            FROM actors a LEFT JOIN keys k ON k.actor_id = a.id AND k.retired_at IS NULL
            WHERE a.local AND lower(a.username) = lower($1) AND a.actor_type = $2""",
        username, actor_type,
    )
    if row is None:
        return None
    actor = LocalActor(**{c: row[c] for c in _ACTOR_NAMES})
    key = None if row["key_pk"] is None else KeyRecord(**{c: row[alias] for c, alias in _KEY_COLUMNS})
    return actor, key


async def username_taken(conn: asyncpg.Connection, username: str) -> bool:
    """Whether any local actor, deleted or not, has had this username."""
    return bool(
        await conn.fetchval("SELECT EXISTS (SELECT 1 FROM actors WHERE local AND lower(username) = lower($1))", username)
    )


async def list_departments(conn: asyncpg.Connection) -> list[LocalActor]:
    """Every live department, by username."""
    rows = await conn.fetch(
        f"""SELECT {ACTOR_COLUMNS} FROM actors
            WHERE local AND actor_type = $1 AND deleted_at IS NULL ORDER BY username""",
        DEPARTMENT_TYPE,
    )
    return [LocalActor(**dict(r)) for r in rows]


async def count_departments(conn: asyncpg.Connection) -> int:
    """How many live departments there are."""
    return int(
        await conn.fetchval(
            "SELECT count(*) FROM actors WHERE local AND actor_type = $1 AND deleted_at IS NULL", DEPARTMENT_TYPE
        )
    )


def _staff(row: asyncpg.Record | None) -> Staff | None:
    return None if row is None else Staff(**dict(row))


async def insert_staff(conn: asyncpg.Connection, username: str, display_name: str, email: str | None) -> Staff:
    """Create a staff login."""
    row = await conn.fetchrow(
        f"INSERT INTO staff (username, display_name, email) VALUES ($1, $2, $3) RETURNING {_STAFF}",
        username, display_name, email,
    )
    staff = _staff(row)
    assert staff is not None
    return staff


async def update_staff(conn: asyncpg.Connection, staff_id: int, display_name: str, email: str | None) -> Staff:
    """Change a staff member's name and e-mail."""
    row = await conn.fetchrow(
        f"""UPDATE staff SET display_name = $2, email = $3, updated_at = now()
            WHERE id = $1 RETURNING {_STAFF}""",
        staff_id, display_name, email,
    )
    staff = _staff(row)
    assert staff is not None
    return staff


async def delete_staff(conn: asyncpg.Connection, staff_id: int) -> None:
    """Remove a staff login and its memberships."""
    await conn.execute("DELETE FROM staff WHERE id = $1", staff_id)


async def staff_by_username(conn: asyncpg.Connection, username: str) -> Staff | None:
    """A staff member by login name (case-insensitive)."""
    return _staff(await conn.fetchrow(f"SELECT {_STAFF} FROM staff WHERE lower(username) = lower($1)", username))


async def staff_by_email(conn: asyncpg.Connection, email: str) -> Staff | None:
    """A staff member by e-mail address (case-insensitive)."""
    return _staff(await conn.fetchrow(f"SELECT {_STAFF} FROM staff WHERE lower(email) = lower($1)", email))


async def list_staff(conn: asyncpg.Connection, actor_id: int | None = None) -> list[Staff]:
    """All staff, or the members of one department, by username."""
    if actor_id is None:
        rows = await conn.fetch(f"SELECT {_STAFF} FROM staff ORDER BY username")
    else:
        rows = await conn.fetch(
            f"""SELECT {', '.join('s.' + c for c in _STAFF.split(', '))} FROM staff s
                JOIN memberships m ON m.staff_id = s.id WHERE m.actor_id = $1 ORDER BY s.username""",
            actor_id,
        )
    return [Staff(**dict(r)) for r in rows]


async def upsert_membership(conn: asyncpg.Connection, staff_id: int, actor_id: int, role: str) -> bool:
    """Give a staff member a role in a department; True if anything changed."""
    status = await conn.execute(
        """INSERT INTO memberships (staff_id, actor_id, role) VALUES ($1, $2, $3)
           ON CONFLICT (staff_id, actor_id) DO UPDATE SET role = EXCLUDED.role
           WHERE memberships.role IS DISTINCT FROM EXCLUDED.role""",
        staff_id, actor_id, role,
    )
    return status != "INSERT 0 0"


async def delete_membership(conn: asyncpg.Connection, staff_id: int, actor_id: int) -> bool:
    """Take a staff member out of a department; True if they were in it."""
    return await conn.execute("DELETE FROM memberships WHERE staff_id = $1 AND actor_id = $2", staff_id, actor_id) != "DELETE 0"


async def delete_memberships_of_actor(conn: asyncpg.Connection, actor_id: int) -> None:
    """Remove every membership in a department."""
    await conn.execute("DELETE FROM memberships WHERE actor_id = $1", actor_id)


async def memberships(
    conn: asyncpg.Connection, staff_id: int | None = None, actor_id: int | None = None
) -> list[Membership]:
    """Memberships of one staff member, of one department, or all."""
    rows = await conn.fetch(
        f"""{_MEMBERSHIP}
            WHERE ($1::bigint IS NULL OR m.staff_id = $1) AND ($2::bigint IS NULL OR m.actor_id = $2)
            ORDER BY a.username, s.username""",
        staff_id, actor_id,
    )
    return [Membership(**dict(r)) for r in rows]


# Bulk statements for ``actors.provisioning``: one round trip per kind of change, whatever the row count,
# and none when there is nothing to change.

# Column -> SQL type of the arrays ``unnest`` takes (jsonb travels as text and is cast back).
_DEPARTMENT_COLUMN_TYPES = {
    "display_name": "text", "summary": "text", "summary_html": "text", "area": "text", "avatar_url": "text",
    "header_url": "text", "fields": "text", "manually_approves_followers": "boolean", "discoverable": "boolean",
}


def _department_arrays(values: Sequence[Mapping[str, Any]]) -> list[list[Any]]:
    """One array per DEPARTMENT_COLUMNS entry, fields serialised to JSON text."""
    return [
        [json.dumps(v[c], ensure_ascii=False) if c == "fields" else v[c] for v in values] for c in DEPARTMENT_COLUMNS
    ]


def _unnest_columns(first: int) -> tuple[str, str]:
    """The typed ``unnest`` arguments from ``$first`` on, and the column list naming them."""
    arrays = ", ".join(f"${i}::{_DEPARTMENT_COLUMN_TYPES[c]}[]" for i, c in enumerate(DEPARTMENT_COLUMNS, start=first))
    return arrays, ", ".join(DEPARTMENT_COLUMNS)


def _cast(column: str) -> str:
    return f"u.{column}::jsonb" if column == "fields" else f"u.{column}"


async def all_local_actors(conn: asyncpg.Connection) -> list[LocalActor]:
    """Every local actor, deleted ones and the instance actor included."""
    rows = await conn.fetch(f"SELECT {ACTOR_COLUMNS} FROM actors WHERE local ORDER BY username")
    return [LocalActor(**dict(r)) for r in rows]


async def member_counts(conn: asyncpg.Connection) -> dict[int, int]:
    """Actor id -> number of staff members, for departments that have any."""
    rows = await conn.fetch("SELECT actor_id, count(*) AS n FROM memberships GROUP BY actor_id")
    return {r["actor_id"]: r["n"] for r in rows}


async def insert_local_actors(
    conn: asyncpg.Connection, actor_type: str, domain: str, rows: Sequence[tuple[str, str, Mapping[str, Any]]]
) -> list[LocalActor]:
    """Create many local actors from (uri, username, values with every DEPARTMENT_COLUMNS entry)."""
    if not rows:
        return []
    arrays, columns = _unnest_columns(5)
    result = await conn.fetch(
        f"""INSERT INTO actors (uri, local, actor_type, username, domain, {columns})
            SELECT u.uri, true, $1, u.username, $2, {', '.join(_cast(c) for c in DEPARTMENT_COLUMNS)}
            FROM unnest($3::text[], $4::text[], {arrays}) AS u(uri, username, {columns})
            RETURNING {ACTOR_COLUMNS}""",
        actor_type, domain, [r[0] for r in rows], [r[1] for r in rows], *_department_arrays([r[2] for r in rows]),
    )
    return [LocalActor(**dict(r)) for r in result]


async def update_local_actors(conn: asyncpg.Connection, rows: Sequence[tuple[int, Mapping[str, Any]]]) -> None:
    """Set every DEPARTMENT_COLUMNS entry of many local actors from (actor id, values)."""
    if not rows:
        return
    arrays, columns = _unnest_columns(2)
    assignments = ", ".join(f"{c} = {_cast(c)}" for c in DEPARTMENT_COLUMNS)
    await conn.execute(
        f"""UPDATE actors a SET updated_at = now(), {assignments}
            FROM unnest($1::bigint[], {arrays}) AS u(id, {columns})
            WHERE a.id = u.id AND a.local""",
        [r[0] for r in rows], *_department_arrays([r[1] for r in rows]),
    )


async def mark_actors_deleted(conn: asyncpg.Connection, actor_ids: Sequence[int]) -> None:
    """Delete many local actors as ``mark_actor_deleted`` does, their memberships with them."""
    if not actor_ids:
        return
    await conn.execute("DELETE FROM memberships WHERE actor_id = ANY($1::bigint[])", actor_ids)
    await conn.execute(
        "UPDATE actors SET deleted_at = now(), updated_at = now() WHERE id = ANY($1::bigint[]) AND local", actor_ids
    )


async def insert_staff_many(conn: asyncpg.Connection, rows: Sequence[tuple[str, str, str | None]]) -> list[Staff]:
    """Create many staff logins from (username, display name, e-mail)."""
    if not rows:
        return []
    result = await conn.fetch(
        f"""INSERT INTO staff (username, display_name, email)
            SELECT * FROM unnest($1::text[], $2::text[], $3::text[]) RETURNING {_STAFF}""",
        [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows],
    )
    return [Staff(**dict(r)) for r in result]


async def update_staff_many(conn: asyncpg.Connection, rows: Sequence[tuple[int, str, str | None]]) -> None:
    """Set the name and e-mail of many staff members from (staff id, display name, e-mail).

    The e-mail addresses of the rows are cleared first, so that two members may swap addresses
    (a unique index is checked row by row, not at the end of the statement).
    """
    if not rows:
        return
    ids = [r[0] for r in rows]
    await conn.execute("UPDATE staff SET email = NULL WHERE id = ANY($1::bigint[])", ids)
    await conn.execute(
        """UPDATE staff s SET display_name = u.display_name, email = u.email, updated_at = now()
           FROM unnest($1::bigint[], $2::text[], $3::text[]) AS u(id, display_name, email)
           WHERE s.id = u.id""",
        ids, [r[1] for r in rows], [r[2] for r in rows],
    )


async def delete_staff_many(conn: asyncpg.Connection, staff_ids: Sequence[int]) -> None:
    """Remove many staff logins and their memberships."""
    if not staff_ids:
        return
    await conn.execute("DELETE FROM staff WHERE id = ANY($1::bigint[])", staff_ids)


async def upsert_memberships(conn: asyncpg.Connection, rows: Sequence[tuple[int, int, str]]) -> None:
    """Give many (staff id, actor id) pairs their role, creating or changing the membership."""
    if not rows:
        return
    await conn.execute(
        """INSERT INTO memberships (staff_id, actor_id, role)
           SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[])
           ON CONFLICT (staff_id, actor_id) DO UPDATE SET role = EXCLUDED.role""",
        [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows],
    )


async def delete_memberships(conn: asyncpg.Connection, pairs: Sequence[tuple[int, int]]) -> None:
    """Remove many memberships given as (staff id, actor id)."""
    if not pairs:
        return
    await conn.execute(
        """DELETE FROM memberships m USING unnest($1::bigint[], $2::bigint[]) AS x(staff_id, actor_id)
           WHERE m.staff_id = x.staff_id AND m.actor_id = x.actor_id""",
        [p[0] for p in pairs], [p[1] for p in pairs],
    )
