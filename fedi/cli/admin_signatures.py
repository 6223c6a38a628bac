"""``fedi admin staff signature`` and ``fedi admin department signatures``: signed department posts.

When a department's signatures are on, every post its staff publish from an app ends with
"— <signature name>" (the staff member's full name when they have no signature name), so citizens
can see who answered.
"""

from __future__ import annotations

import argparse

from actors.departments import get_department
from actors.staff import get_staff
from api.statuses.publishing_queries import set_signature_name, set_signatures
from fedi.cli.context import fail, migrated_connection, settings_from

MAX_SIGNATURE = 100


def _subcommands(admin: argparse._SubParsersAction, name: str) -> argparse._SubParsersAction:
    """The subcommands of ``fedi admin <name>``, registered by its own module."""
    parser = admin.choices[name]
    return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))


def add_parsers(admin: argparse._SubParsersAction) -> None:
    """Register ``staff signature`` and ``department signatures`` (after ``staff`` and ``department``)."""
    signature = _subcommands(admin, "staff").add_parser("signature", help="the name a staff member signs posts with")
    signature.add_argument("username")
    signature.add_argument("name", help="e.g. 'Anna, librarian' ('' signs with the full name)")
    signature.set_defaults(handler=run_signature)
    signatures = _subcommands(admin, "department").add_parser(
        "signatures", help="sign the department's posts with the staff member's name (on) or not (off)"
    )
    signatures.add_argument("department")
    signatures.add_argument("switch", choices=("on", "off"))
    signatures.set_defaults(handler=run_signatures)


async def run_signature(args: argparse.Namespace) -> int:
    """Set the name a staff member signs with."""
    name = " ".join(args.name.split())
    if len(name) > MAX_SIGNATURE:
        fail(f"the signature has {len(name)} characters; at most {MAX_SIGNATURE} are allowed")
    async with migrated_connection(settings_from(args)) as conn:
        async with conn.transaction():
            staff = await get_staff(conn, args.username)
            await set_signature_name(conn, staff.id, name)
    shown = name or staff.display_name or "(nothing: no signature name and no full name)"
    print(f"staff {staff.username} signs as {shown}")
    return 0


async def run_signatures(args: argparse.Namespace) -> int:
    """Switch a department's staff signatures on or off."""
    async with migrated_connection(settings_from(args)) as conn:
        async with conn.transaction():
            department = await get_department(conn, args.department)
            await set_signatures(conn, department.id, args.switch == "on")
    state = "signed with the staff member's name" if args.switch == "on" else "not signed"
    print(f"department {department.username}: posts are {state}")
    return 0
