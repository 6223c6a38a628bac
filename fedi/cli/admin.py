"""``fedi admin``: departments, staff, memberships, key rotation and declarative ``apply``.

Every command writes in one transaction and checks its input first: bad input prints
``fedi: error: ...``, exits with status 2 and changes nothing. Output is plain text, one fact per line.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from actors.departments import get_department
from actors.key_generation import count_pending, generate_pending_keys
from actors.provisioning import apply_plan, plan_provisioning, render_plan
from actors.provisioning_file import read_provisioning_file
from fedi.cli import admin_departments, admin_passwords, admin_reports, admin_staff, posts
from fedi.cli import admin_archive, admin_signatures
from fedi.cli import admin_queue
from fedi.cli import admin_blocks
from fedi.cli.context import fail, migrated_connection, settings_from
from keys.keypairs import KeyVault
from keys.queries import keys_of_actor
from keys.store import rotate_key


def add_parsers(commands: argparse._SubParsersAction) -> None:
    """Register ``admin department|staff|membership|keys|apply``."""
    admin = commands.add_parser("admin", help="manage departments, staff and keys").add_subparsers(
        dest="admin_command", required=True, metavar="COMMAND"
    )
    admin_departments.add_parsers(admin)
    admin_staff.add_parsers(admin)
    admin_passwords.add_parsers(admin)
    admin_reports.add_parsers(admin)
    admin_signatures.add_parsers(admin)
    admin_queue.add_parsers(admin)
    admin_blocks.add_parsers(admin)
    posts.add_admin_parsers(admin)
    admin_archive.add_parsers(admin)
    keys = admin.add_parser("keys", help="department key pairs").add_subparsers(
        dest="keys_command", required=True, metavar="COMMAND"
    )
    rotate = keys.add_parser("rotate", help="retire a department's key and make a new one")
    rotate.add_argument("department")
    rotate.set_defaults(handler=run_rotate)
    listing = keys.add_parser("list", help="a department's keys, active and retired")
    listing.add_argument("department")
    listing.set_defaults(handler=run_keys_list)
    generate = keys.add_parser(
        "generate", help="make now the key pairs of departments without one (the worker makes them in the background)"
    )
    generate.add_argument("--processes", type=int, metavar="N", help="processes generating keys (default: one per core)")
    generate.set_defaults(handler=run_keys_generate)
    apply = admin.add_parser(
        "apply", help="make departments, staff and memberships exactly what a TOML file describes"
    )
    apply.add_argument(
        "file", type=Path, help="TOML file of [[department]] and [[staff]] tables: the complete desired state"
    )
    apply.add_argument("--dry-run", action="store_true", help="print the changes without making them")
    apply.add_argument(
        "--wait-for-keys", action="store_true",
        help="generate the new departments' key pairs before returning instead of leaving them to the worker",
    )
    apply.set_defaults(handler=run_apply)


async def run_rotate(args: argparse.Namespace) -> int:
    """Retire a department's active key and print the retired and the new key ids."""
    settings = settings_from(args)
    async with migrated_connection(settings) as conn:
        async with conn.transaction():
            department = await get_department(conn, args.department)
            retired, new = await rotate_key(conn, KeyVault(settings.secret_key), department.id, department.uri)
    print(f"retired {retired.key_id if retired is not None else '-'}")
    print(f"active {new.key_id}")
    return 0


async def run_keys_list(args: argparse.Namespace) -> int:
    """One line per key the department has had: id, state, creation time."""
    async with migrated_connection(settings_from(args)) as conn:
        department = await get_department(conn, args.department)
        keys = await keys_of_actor(conn, department.id)
    for key in keys:
        state = "retired" if key.retired else "active"
        print(f"{key.key_id} {state} {key.created_at.isoformat(timespec='seconds')}")
    if not keys:
        print(f"department {department.username} has no key yet (one is made when it is first needed)")
    return 0


async def run_apply(args: argparse.Namespace) -> int:
    """Print the changes a provisioning file makes and, unless --dry-run, make them."""
    settings = settings_from(args)
    desired = read_provisioning_file(args.file)
    async with migrated_connection(settings) as conn:
        async with conn.transaction():
            plan = await plan_provisioning(conn, desired, str(args.file))
            if not args.dry_run:
                await apply_plan(conn, settings, plan)
        for line in render_plan(plan):
            print(line)
        if args.dry_run:
            print("dry run: nothing was changed")
            return 0
        if args.wait_for_keys:
            print(f"applied; {await generate_pending_keys(conn, KeyVault(settings.secret_key))} key pair(s) generated")
        else:
            print(pending_keys_line(await count_pending(conn)))
    return 0


def pending_keys_line(pending: int) -> str:
    """``applied; 3 key pair(s) pending: ...`` (the worker makes them, or ``keys generate`` now)."""
    if not pending:
        return "applied; 0 key pair(s) pending"
    return (
        f"applied; {pending} key pair(s) pending: `fedi worker` (or `fedi serve`) generates them in the background, "
        "`fedi admin keys generate` does it now"
    )


async def run_keys_generate(args: argparse.Namespace) -> int:
    """Generate every missing department key pair in a process pool; print how many were made."""
    if args.processes is not None and args.processes < 1:
        fail(f"--processes must be at least 1 (got {args.processes})")
    settings = settings_from(args)
    async with migrated_connection(settings) as conn:
        made = await generate_pending_keys(conn, KeyVault(settings.secret_key), args.processes)
    print(f"{made} key pair(s) generated")
    return 0
