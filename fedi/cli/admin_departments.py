"""``fedi admin department``: create, update, list, show and delete department accounts."""

from __future__ import annotations

import argparse
from dataclasses import asdict, fields
from typing import Any

from actors import queries
from actors.departments import create_department, delete_department, department_properties, get_department
from actors.departments import update_department
from actors.errors import ValidationError
from actors.validation import DepartmentInput, department_input
from fedi.cli.context import fail, migrated_connection, settings_from
from fedi.cli.tables import render_table
from keys.keypairs import KeyVault
from keys.queries import keys_of_actor
from outbox.actor_updates import send_profile_update

ATTRIBUTES = tuple(f.name for f in fields(DepartmentInput) if f.name != "username")


def add_parsers(admin: argparse._SubParsersAction) -> None:
    """Register ``department create|update|list|show|delete``."""
    department = admin.add_parser("department", help="department accounts")
    commands = department.add_subparsers(dest="department_command", required=True, metavar="COMMAND")
    create = commands.add_parser("create", help="create a department and its key pair")
    _add_property_options(create)
    create.set_defaults(handler=run_create)
    update = commands.add_parser("update", help="change some of a department's properties")
    _add_property_options(update)
    update.add_argument("--clear-fields", action="store_true", help="remove every profile field (before --field)")
    update.set_defaults(handler=run_update)
    commands.add_parser("list", help="list the departments").set_defaults(handler=run_list)
    show = commands.add_parser("show", help="a department's properties, keys and members")
    show.add_argument("username")
    show.set_defaults(handler=run_show)
    delete = commands.add_parser("delete", help="delete a department (its username stays taken)")
    delete.add_argument("username")
    delete.add_argument("--yes", action="store_true", help="confirm the deletion")
    delete.set_defaults(handler=run_delete)


def _add_property_options(parser: argparse.ArgumentParser) -> None:
    """The options shared by ``create`` and ``update``; those not given are None."""
    parser.add_argument("username")
    parser.add_argument("--name", dest="display_name", metavar="NAME", help="display name")
    parser.add_argument("--summary", help="profile text (plain text; links become clickable)")
    parser.add_argument("--area", help="the area the department belongs to, e.g. Culture")
    parser.add_argument("--avatar", dest="avatar_url", metavar="URL", help="avatar image URL ('' removes it)")
    parser.add_argument("--header", dest="header_url", metavar="URL", help="header image URL ('' removes it)")
    parser.add_argument(
        "--field", dest="fields", action="append", default=[], metavar="NAME=VALUE",
        help="a profile field; repeat for several (update: replaces the field of that name or adds it)",
    )
    _add_switch(
        parser, "manually_approves_followers", "--manually-approves-followers", "--no-manually-approves-followers"
    )
    _add_switch(parser, "discoverable", "--discoverable", "--not-discoverable")


def _add_switch(parser: argparse.ArgumentParser, name: str, on: str, off: str) -> None:
    """Two exclusive options setting ``name`` to True or False; None when neither is given."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument(on, dest=name, action="store_const", const=True, help=f"set {name} to true")
    group.add_argument(off, dest=name, action="store_const", const=False, help=f"set {name} to false")


def _given_properties(args: argparse.Namespace) -> dict[str, Any]:
    """The properties named on the command line, fields excepted."""
    given = {name: getattr(args, name) for name in ATTRIBUTES if name != "fields"}
    return {name: value for name, value in given.items() if value is not None}


def _field(option: str) -> dict[str, str]:
    """A ``--field "Name=Value"`` option as a profile field."""
    name, equals, value = option.partition("=")
    if not equals:
        raise ValidationError(f"--field {option!r}: write it as \"Name=Value\"")
    return {"name": name.strip(), "value": value.strip()}


def _merged_fields(current: list[dict[str, str]], options: list[str]) -> list[dict[str, str]]:
    """The current fields with each ``--field`` replacing the one of its name, or added after them."""
    merged = [dict(f) for f in current]
    for option in options:
        field = _field(option)
        same = [f for f in merged if f["name"] == field["name"]]
        if same:
            same[0]["value"] = field["value"]
        else:
            merged.append(field)
    return merged


def _yes_no(value: bool) -> str:
    return "true" if value else "false"


async def run_create(args: argparse.Namespace) -> int:
    """Create a department with its first key pair."""
    settings = settings_from(args)
    data = department_input(args.username, {**_given_properties(args), "fields": [_field(f) for f in args.fields]})
    async with migrated_connection(settings) as conn:
        async with conn.transaction():
            department = await create_department(conn, settings, KeyVault(settings.secret_key), data)
    print(f"created department {department.username} {department.uri}")
    return 0


async def run_update(args: argparse.Namespace) -> int:
    """Change the properties given on the command line, keeping the others."""
    settings = settings_from(args)
    changes = _given_properties(args)
    if not changes and not args.fields and not args.clear_fields:
        fail("nothing to update: give at least one option (see `fedi admin department update --help`)")
    async with migrated_connection(settings) as conn:
        async with conn.transaction():
            department = await get_department(conn, args.username)
            if args.fields or args.clear_fields:
                changes["fields"] = _merged_fields([] if args.clear_fields else department.fields, args.fields)
            before = department_properties(department)
            kept = {k: v for k, v in asdict(before).items() if k != "username"}
            after = department_input(department.username, {**kept, **changes})
            changed = [name for name in ATTRIBUTES if getattr(before, name) != getattr(after, name)]
            if changed:
                updated = await update_department(conn, department.username, changes)
                await send_profile_update(conn, settings, KeyVault(settings.secret_key), updated)
    if changed:
        print(f"updated department {department.username}: {', '.join(changed)}")
    else:
        print(f"department {department.username} unchanged")
    return 0


async def run_list(args: argparse.Namespace) -> int:
    """A table of the live departments."""
    async with migrated_connection(settings_from(args)) as conn:
        departments = await queries.list_departments(conn)
        counts = await queries.member_counts(conn)
    if not departments:
        print("no departments")
        return 0
    rows = [(d.username, d.display_name, d.area, counts.get(d.id, 0)) for d in departments]
    for line in render_table(("USERNAME", "DISPLAY NAME", "AREA", "MEMBERS"), rows):
        print(line)
    return 0


async def run_show(args: argparse.Namespace) -> int:
    """Every property of a department, its keys and its members."""
    async with migrated_connection(settings_from(args)) as conn:
        department = await get_department(conn, args.username)
        keys = await keys_of_actor(conn, department.id)
        members = await queries.memberships(conn, actor_id=department.id)
    print(f"username: {department.username}")
    print(f"actor: {department.uri}")
    print(f"display_name: {department.display_name}")
    print(f"area: {department.area}")
    for line in department.summary.splitlines() or [""]:
        print(f"summary: {line}")
    print(f"avatar_url: {department.avatar_url or '-'}")
    print(f"header_url: {department.header_url or '-'}")
    print(f"manually_approves_followers: {_yes_no(department.manually_approves_followers)}")
    print(f"discoverable: {_yes_no(department.discoverable)}")
    for field in department.fields:
        print(f"field: {field['name']} = {field['value']}")
    print(f"created_at: {department.created_at.isoformat(timespec='seconds')}")
    print(f"updated_at: {department.updated_at.isoformat(timespec='seconds')}")
    for key in keys:
        state = "retired" if key.retired else "active"
        print(f"key: {key.key_id} {state} {key.created_at.isoformat(timespec='seconds')}")
    for member in members:
        print(f"member: {member.staff_username} {member.role}")
    return 0


async def run_delete(args: argparse.Namespace) -> int:
    """Delete a department once confirmed with ``--yes``."""
    if not args.yes:
        fail(
            f"refusing to delete department {args.username!r} without --yes: its actor goes away for good "
            "and its username can never be used again"
        )
    async with migrated_connection(settings_from(args)) as conn:
        async with conn.transaction():
            department = await delete_department(conn, args.username)
    print(f"deleted department {department.username} (its username stays taken)")
    return 0
