"""``fedi admin staff`` and ``fedi admin membership``: staff logins and their roles in departments."""

from __future__ import annotations

import argparse
from collections import defaultdict

from actors import queries
from actors.departments import get_department
from actors.staff import add_staff, grant_membership, remove_staff, revoke_membership, update_staff
from actors.validation import ROLES
from actors.validation import role as valid_role
from fedi.cli.context import fail, migrated_connection, settings_from
from fedi.cli.tables import render_table


def add_parsers(admin: argparse._SubParsersAction) -> None:
    """Register ``staff add|update|remove|list`` and ``membership grant|revoke``."""
    staff = admin.add_parser("staff", help="staff logins").add_subparsers(
        dest="staff_command", required=True, metavar="COMMAND"
    )
    add = staff.add_parser("add", help="create a staff login, optionally with a first membership")
    add.add_argument("username")
    add.add_argument("--name", default="", help="full name")
    add.add_argument("--email", help="e-mail address (unique)")
    add.add_argument("--department", help="department to join (with --role)")
    add.add_argument("--role", help=f"role in --department: {', '.join(ROLES)}")
    add.set_defaults(handler=run_add)
    update = staff.add_parser("update", help="change a staff member's name or e-mail")
    update.add_argument("username")
    update.add_argument("--name", help="full name")
    update.add_argument("--email", help="e-mail address ('' removes it)")
    update.set_defaults(handler=run_update)
    remove = staff.add_parser("remove", help="delete a staff login and its memberships")
    remove.add_argument("username")
    remove.set_defaults(handler=run_remove)
    listing = staff.add_parser("list", help="list staff and their departments")
    listing.add_argument("--department", help="only the members of this department")
    listing.set_defaults(handler=run_list)

    membership = admin.add_parser("membership", help="staff roles in departments").add_subparsers(
        dest="membership_command", required=True, metavar="COMMAND"
    )
    grant = membership.add_parser("grant", help="give a staff member a role in a department (or change it)")
    grant.add_argument("staff")
    grant.add_argument("department")
    grant.add_argument("role", help=", ".join(ROLES))
    grant.set_defaults(handler=run_grant)
    revoke = membership.add_parser("revoke", help="take a staff member out of a department")
    revoke.add_argument("staff")
    revoke.add_argument("department")
    revoke.set_defaults(handler=run_revoke)


async def run_add(args: argparse.Namespace) -> int:
    """Create a staff login and, with --department and --role, its first membership."""
    if (args.department is None) != (args.role is None):
        fail("give --department and --role together")
    if args.role is not None:
        valid_role(args.role)
    async with migrated_connection(settings_from(args)) as conn:
        async with conn.transaction():
            staff = await add_staff(conn, args.username, args.name, args.email)
            if args.department is not None:
                await grant_membership(conn, staff.username, args.department, args.role)
    print(f"added staff {staff.username}")
    if args.department is not None:
        print(f"granted {staff.username} {args.role} in {args.department}")
    return 0


async def run_update(args: argparse.Namespace) -> int:
    """Change a staff member's name and/or e-mail."""
    if args.name is None and args.email is None:
        fail("nothing to update: give --name and/or --email")
    async with migrated_connection(settings_from(args)) as conn:
        async with conn.transaction():
            staff = await update_staff(conn, args.username, args.name, args.email)
    print(f"updated staff {staff.username}: name {staff.display_name!r}, email {staff.email or '-'}")
    return 0


async def run_remove(args: argparse.Namespace) -> int:
    """Delete a staff login with its memberships."""
    async with migrated_connection(settings_from(args)) as conn:
        async with conn.transaction():
            staff = await remove_staff(conn, args.username)
    print(f"removed staff {staff.username}")
    return 0


async def run_list(args: argparse.Namespace) -> int:
    """A table of staff (all, or one department's members) with their departments and roles."""
    async with migrated_connection(settings_from(args)) as conn:
        if args.department is None:
            staff = await queries.list_staff(conn)
        else:
            staff = await queries.list_staff(conn, (await get_department(conn, args.department)).id)
        memberships = await queries.memberships(conn)
    roles: dict[int, list[str]] = defaultdict(list)
    for m in memberships:
        roles[m.staff_id].append(f"{m.department}:{m.role}")
    if not staff:
        print("no staff")
        return 0
    rows = [(s.username, s.display_name, s.email, ",".join(roles[s.id])) for s in staff]
    for line in render_table(("USERNAME", "NAME", "EMAIL", "DEPARTMENTS"), rows):
        print(line)
    return 0


async def run_grant(args: argparse.Namespace) -> int:
    """Give a staff member a role in a department, or change their role there."""
    async with migrated_connection(settings_from(args)) as conn:
        async with conn.transaction():
            changed = await grant_membership(conn, args.staff, args.department, args.role)
    if changed:
        print(f"granted {args.staff} {args.role} in {args.department}")
    else:
        print(f"{args.staff} is already {args.role} in {args.department}")
    return 0


async def run_revoke(args: argparse.Namespace) -> int:
    """Take a staff member out of a department."""
    async with migrated_connection(settings_from(args)) as conn:
        async with conn.transaction():
            await revoke_membership(conn, args.staff, args.department)
    print(f"revoked {args.staff} from {args.department}")
    return 0
