"""``fedi admin staff password USERNAME``: set the password a staff member logs in to fediverse apps with.

At a terminal the password is asked twice without echo; otherwise the first line of standard input
is the password (for scripts: ``printf '%s\\n' "$PW" | fedi admin staff password clerk``). Setting
a password revokes the staff member's tokens, so every app must log in again.
"""

from __future__ import annotations

import argparse
import getpass
import sys

from actors.passwords import PasswordRejected, check_new_password
from actors.staff import get_staff
from api.oauth.passwords import set_password
from fedi.cli.context import fail, migrated_connection, settings_from


def _subcommands(parser: argparse.ArgumentParser) -> argparse._SubParsersAction:
    """The subcommand table of ``parser`` (``admin staff``)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    raise LookupError(f"{parser.prog} has no subcommands")


def add_parsers(admin: argparse._SubParsersAction) -> None:
    """Register ``staff password`` beside the other ``admin staff`` commands."""
    staff = _subcommands(admin.choices["staff"])
    password = staff.add_parser("password", help="set a staff member's password (read from the terminal or stdin)")
    password.add_argument("username")
    password.set_defaults(handler=run_password)


def read_password() -> str:
    """The new password: asked twice at a terminal, else the first line of standard input."""
    if sys.stdin.isatty():
        first = getpass.getpass("New password: ")
        if getpass.getpass("Repeat the password: ") != first:
            fail("the two passwords differ; nothing was changed")
        return first
    return sys.stdin.readline().rstrip("\r\n")


async def run_password(args: argparse.Namespace) -> int:
    """Check the password, store its Argon2id hash and revoke the staff member's tokens."""
    try:
        password = check_new_password(read_password())
    except PasswordRejected as exc:
        fail(f"{exc}; nothing was changed")
    async with migrated_connection(settings_from(args)) as conn:
        async with conn.transaction():
            staff = await get_staff(conn, args.username)
            revoked = await set_password(conn, staff.id, password)
    print(f"set the password of {staff.username}")
    if revoked:
        print(f"revoked {revoked} token(s): apps must log in again")
    return 0
