"""Declarative provisioning: make the departments, staff and memberships exactly what a file says.

``plan_provisioning`` loads the current state with three queries and compares it with the file in
Python; ``apply_plan`` writes the differences with one bulk statement per kind of change, inside
the caller's transaction, so applying is all-or-nothing. Departments absent from the file are
deleted the way ``delete_department`` deletes one (the username stays taken); staff and
memberships absent from it are removed. New departments get no key pair here (RSA generation would
take longer than everything else): committing wakes the worker, whose ``keys`` task generates them in
the background (``actors.key_generation``), or ``generate_pending_keys`` there in the foreground
for whoever wants to wait. Applying the same file twice yields a plan with no changes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields
from typing import Any, Generic, TypeVar

import asyncpg

from actors import queries
from actors.departments import column_values, department_properties
from actors.errors import Conflict
from actors.provisioning_file import DesiredState, ProvisioningFileError, StaffEntry
from actors.queries import DEPARTMENT_TYPE, LocalActor, Membership, Staff
from actors.urls import department_urls
from actors.validation import DepartmentInput
from fedi.settings import Settings
from fedi.worker import notify_work

ADVISORY_LOCK = "fedi.provisioning"
DEPARTMENT_ATTRIBUTES = tuple(f.name for f in fields(DepartmentInput) if f.name != "username")


@dataclass(frozen=True, order=True)
class MembershipKey:
    """A membership's identity: which staff member in which department."""

    staff: str
    department: str

    def __str__(self) -> str:
        return f"{self.staff} {self.department}"


Name = TypeVar("Name", str, MembershipKey)


@dataclass(frozen=True)
class Update(Generic[Name]):
    """An entry that exists and changes, and which of its attributes do."""

    name: Name
    attributes: tuple[str, ...]


@dataclass(frozen=True)
class Changes(Generic[Name]):
    """What happens to the entries of one kind, each list sorted by name."""

    created: tuple[Name, ...] = ()
    updated: tuple[Update[Name], ...] = ()
    unchanged: tuple[Name, ...] = ()
    removed: tuple[Name, ...] = ()

    def counts(self) -> dict[str, int]:
        """How many entries each action touches."""
        return {
            "created": len(self.created), "updated": len(self.updated),
            "unchanged": len(self.unchanged), "removed": len(self.removed),
        }


@dataclass(frozen=True)
class CurrentState:
    """What the database holds, keyed by username (memberships by staff and department)."""

    departments: dict[str, LocalActor]
    taken: dict[str, str]  # username -> who holds it: a deleted department or the server's own actor
    staff: dict[str, Staff]
    memberships: dict[MembershipKey, Membership]


@dataclass(frozen=True)
class Plan:
    """The differences between the database and the file, and both states they were computed from."""

    departments: Changes[str]
    staff: Changes[str]
    memberships: Changes[MembershipKey]
    desired: DesiredState
    current: CurrentState

    @property
    def has_changes(self) -> bool:
        """Whether applying would write anything."""
        return any(c.created or c.updated or c.removed for c in (self.departments, self.staff, self.memberships))


async def load_state(conn: asyncpg.Connection) -> CurrentState:
    """The current departments, usernames no longer available, staff and memberships."""
    departments, taken = {}, {}
    for actor in await queries.all_local_actors(conn):
        if actor.actor_type != DEPARTMENT_TYPE:
            taken[actor.username.lower()] = "the server's own actor"
        elif actor.deleted_at is not None:
            taken[actor.username.lower()] = "a department that was deleted"
        else:
            departments[actor.username.lower()] = actor
    staff = {s.username.lower(): s for s in await queries.list_staff(conn)}
    memberships = {
        MembershipKey(m.staff_username.lower(), m.department.lower()): m
        for m in await queries.memberships(conn)
        if m.department.lower() in departments
    }
    return CurrentState(departments, taken, staff, memberships)


async def plan_provisioning(
    conn: asyncpg.Connection, desired: DesiredState, source: str = "provisioning file"
) -> Plan:
    """Compare the file with the database; run in the transaction that applies the plan."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", ADVISORY_LOCK)
    return make_plan(desired, await load_state(conn), source)


def make_plan(desired: DesiredState, current: CurrentState, source: str = "provisioning file") -> Plan:
    """The changes turning ``current`` into ``desired``; ProvisioningFileError if a username is unavailable."""
    unavailable = [
        f'department[{position}] "{d.username}": username {d.username!r} is not available: it belongs to '
        f"{current.taken[d.username]}, and usernames are never given out again"
        for position, d in enumerate(desired.departments, start=1)
        if d.username in current.taken
    ]
    if unavailable:
        raise ProvisioningFileError(source, unavailable)
    departments = _diff(
        {d.username: d for d in desired.departments},
        {name: department_properties(a) for name, a in current.departments.items()},
        _department_changes,
    )
    staff = _diff(
        {s.username: s for s in desired.staff},
        {name: StaffEntry(s.username, s.display_name, s.email) for name, s in current.staff.items()},
        _staff_changes,
    )
    memberships = _diff(
        _desired_roles(desired),
        {key: m.role for key, m in current.memberships.items()},
        lambda new, old: ("role",) if new != old else (),
    )
    return Plan(departments, staff, memberships, desired, current)


def _diff(
    desired: dict[Name, Any], current: dict[Name, Any], changed: Callable[[Any, Any], tuple[str, ...]]
) -> Changes[Name]:
    """Sort the entries of both states into created, updated, unchanged and removed."""
    created, updated, unchanged = [], [], []
    for name, wanted in desired.items():
        if name not in current:
            created.append(name)
        elif attributes := changed(wanted, current[name]):
            updated.append(Update(name, attributes))
        else:
            unchanged.append(name)
    removed = [name for name in current if name not in desired]
    return Changes(
        tuple(sorted(created)),
        tuple(sorted(updated, key=lambda u: u.name)),
        tuple(sorted(unchanged)),
        tuple(sorted(removed)),
    )


def _department_changes(new: DepartmentInput, old: DepartmentInput) -> tuple[str, ...]:
    return tuple(a for a in DEPARTMENT_ATTRIBUTES if getattr(new, a) != getattr(old, a))


def _staff_changes(new: StaffEntry, old: StaffEntry) -> tuple[str, ...]:
    return tuple(a for a in ("name", "email") if getattr(new, a) != getattr(old, a))


def _desired_roles(desired: DesiredState) -> dict[MembershipKey, str]:
    return {MembershipKey(s.username, d): role for s in desired.staff for d, role in s.memberships}


async def apply_plan(conn: asyncpg.Connection, settings: Settings, plan: Plan) -> list[LocalActor]:
    """Write the plan inside the caller's transaction; return every department of the file as stored."""
    current = plan.current
    wanted_departments = {d.username: d for d in plan.desired.departments}
    wanted_staff = {s.username: s for s in plan.desired.staff}
    roles = _desired_roles(plan.desired)
    try:
        await queries.delete_memberships(
            conn,
            [(current.staff[k.staff].id, current.departments[k.department].id) for k in plan.memberships.removed],
        )
        await queries.delete_staff_many(conn, [current.staff[n].id for n in plan.staff.removed])
        await queries.mark_actors_deleted(conn, [current.departments[n].id for n in plan.departments.removed])
        await queries.update_local_actors(
            conn,
            [
                (current.departments[u.name].id, column_values(wanted_departments[u.name]))
                for u in plan.departments.updated
            ],
        )
        new_departments = await queries.insert_local_actors(
            conn, DEPARTMENT_TYPE, settings.domain,
            [
                (department_urls(settings.base_url, n).id, n, column_values(wanted_departments[n]))
                for n in plan.departments.created
            ],
        )
        await queries.update_staff_many(
            conn,
            [
                (current.staff[u.name].id, wanted_staff[u.name].name, wanted_staff[u.name].email)
                for u in plan.staff.updated
            ],
        )
        new_staff = await queries.insert_staff_many(
            conn, [(n, wanted_staff[n].name, wanted_staff[n].email) for n in plan.staff.created]
        )
        department_ids = {n: a.id for n, a in current.departments.items()} | {a.username: a.id for a in new_departments}
        staff_ids = {n: s.id for n, s in current.staff.items()} | {s.username: s.id for s in new_staff}
        await queries.upsert_memberships(
            conn,
            [
                (staff_ids[k.staff], department_ids[k.department], roles[k])
                for k in (*plan.memberships.created, *(u.name for u in plan.memberships.updated))
            ],
        )
    except asyncpg.UniqueViolationError as exc:
        raise Conflict(f"another change was made while applying the file, try again: {exc.detail or exc}") from exc
    if new_departments:
        await notify_work(conn)  # at commit: the worker generates their key pairs
    kept = [a for n, a in current.departments.items() if n in wanted_departments]
    return sorted(kept + new_departments, key=lambda a: a.username)


def render_plan(plan: Plan) -> Iterator[str]:
    """One line per change, then a line counting the entries of each kind by action."""
    roles = _desired_roles(plan.desired)
    old_roles = {key: m.role for key, m in plan.current.memberships.items()}
    for kind, changes in (("department", plan.departments), ("staff", plan.staff)):
        yield from (f"create {kind} {name}" for name in changes.created)
        yield from (f"update {kind} {u.name}: {', '.join(u.attributes)}" for u in changes.updated)
        yield from (f"remove {kind} {name}" for name in changes.removed)
    yield from (f"create membership {key} {roles[key]}" for key in plan.memberships.created)
    yield from (
        f"update membership {u.name}: role {old_roles[u.name]} -> {roles[u.name]}" for u in plan.memberships.updated
    )
    yield from (f"remove membership {key} {old_roles[key]}" for key in plan.memberships.removed)
    yield summary_line(plan)


def summary_line(plan: Plan) -> str:
    """``departments: 1 created, 0 updated, 4 unchanged, 0 removed; staff: ...; memberships: ...``."""
    parts = []
    for kind, changes in (("departments", plan.departments), ("staff", plan.staff), ("memberships", plan.memberships)):
        parts.append(f"{kind}: " + ", ".join(f"{n} {action}" for action, n in changes.counts().items()))
    return "; ".join(parts)
