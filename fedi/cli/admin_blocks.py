"""``fedi admin block|unblock|moderator``: the instance's blocks of remote domains and actors, and its moderators.

A domain block covers the domain's subdomains; blocking removes the follows between our departments
and the blocked accounts (see ``actors.blocks``). An actor is named by its id or as ``@user@host``
(looked up by WebFinger when this server has not seen it yet). Moderators are staff members who may
use the admin API (domain blocks, suspending remote accounts) from their apps.
"""

from __future__ import annotations

import argparse

import asyncpg

from actors import block_queries, blocks
from actors.errors import NotFound
from actors.remote_queries import remote_actor_by_handle
from actors.staff import get_staff
from fedi.cli.context import migrated_connection, settings_from
from fedi.cli.posts import publishing
from fedi.cli.tables import render_table


def add_parsers(admin: argparse._SubParsersAction) -> None:
    """Register ``block domain|actor|list``, ``unblock domain|actor`` and ``moderator grant|revoke|list``."""
    block = admin.add_parser("block", help="block remote domains and actors for the whole instance").add_subparsers(
        dest="block_command", required=True, metavar="COMMAND"
    )
    domain = block.add_parser("domain", help="block a domain and its subdomains")
    domain.add_argument("domain", metavar="DOMAIN")
    domain.add_argument("--comment", default="", help="why (for the admins only)")
    domain.add_argument("--public-comment", default="", help="why, as the instance would tell others")
    domain.set_defaults(handler=run_block_domain)
    actor = block.add_parser("actor", help="block one remote actor")
    actor.add_argument("actor", metavar="URI_OR_@user@host")
    actor.add_argument("--comment", default="", help="why (for the admins only)")
    actor.set_defaults(handler=run_block_actor)
    block.add_parser("list", help="blocked domains and actors").set_defaults(handler=run_list)

    unblock = admin.add_parser("unblock", help="lift an instance block").add_subparsers(
        dest="unblock_command", required=True, metavar="COMMAND"
    )
    unblock.add_parser("domain", help="lift a domain block").add_argument("domain", metavar="DOMAIN")
    unblock.choices["domain"].set_defaults(handler=run_unblock_domain)
    unblock.add_parser("actor", help="lift an actor block").add_argument("actor", metavar="URI_OR_@user@host")
    unblock.choices["actor"].set_defaults(handler=run_unblock_actor)

    moderator = admin.add_parser("moderator", help="staff who may moderate the instance through the admin API")
    moderators = moderator.add_subparsers(dest="moderator_command", required=True, metavar="COMMAND")
    for name, help_text in (("grant", "make a staff member a moderator"), ("revoke", "end a staff member's moderation")):
        command = moderators.add_parser(name, help=help_text)
        command.add_argument("staff", metavar="USERNAME")
        command.set_defaults(handler=run_moderator, grant=name == "grant")
    moderators.add_parser("list", help="the moderators").set_defaults(handler=run_moderator_list)


def is_handle(value: str) -> bool:
    """Whether ``value`` is a ``@user@host`` handle rather than an actor id."""
    return "://" not in value and "@" in value.strip().lstrip("@")


async def run_block_domain(args: argparse.Namespace) -> int:
    """Block a domain and print what changed."""
    settings = settings_from(args)
    async with migrated_connection(settings) as conn:
        block, removed = await blocks.block_domain(
            conn, args.domain, args.public_comment, args.comment, local_domain=settings.domain
        )
    print(f"blocked domain {block.domain} and its subdomains; removed {removed} follow(s)")
    return 0


async def run_block_actor(args: argparse.Namespace) -> int:
    """Block an actor (by id, or by handle, looked up if needed) and print what changed."""
    settings = settings_from(args)
    if is_handle(args.actor):
        async with publishing(settings) as (conn, resolver):
            uri = await _known_handle(conn, args.actor) or (await resolver.resolve_handle(args.actor)).uri
            block, removed = await blocks.block_actor(conn, uri, settings.domain, args.comment)
    else:
        async with migrated_connection(settings) as conn:
            block, removed = await blocks.block_actor(conn, args.actor, settings.domain, args.comment)
    print(f"blocked actor {block.uri}; removed {removed} follow(s)")
    return 0


async def run_unblock_domain(args: argparse.Namespace) -> int:
    """Lift a domain block."""
    async with migrated_connection(settings_from(args)) as conn:
        block = await blocks.unblock_domain(conn, args.domain)
    print(f"unblocked domain {block.domain}")
    return 0


async def run_unblock_actor(args: argparse.Namespace) -> int:
    """Lift an actor block (a handle must name an actor this server knows)."""
    async with migrated_connection(settings_from(args)) as conn:
        uri = args.actor
        if is_handle(uri):
            uri = await _known_handle(conn, uri)
            if uri is None:
                raise NotFound(f"no known actor {args.actor}: give its id")
        block = await blocks.unblock_actor(conn, uri)
    print(f"unblocked actor {block.uri}")
    return 0


async def run_list(args: argparse.Namespace) -> int:
    """One line per block: kind, what, since when, the comments."""
    async with migrated_connection(settings_from(args)) as conn:
        domains = await block_queries.all_domain_blocks(conn)
        actors = await block_queries.actor_blocks(conn)
    if not domains and not actors:
        print("no blocks")
        return 0
    rows = [
        ("domain", b.domain, b.created_at.isoformat(timespec="seconds"), b.private_comment, b.public_comment)
        for b in domains
    ] + [("actor", b.uri, b.created_at.isoformat(timespec="seconds"), b.comment, None) for b in actors]
    for line in render_table(("KIND", "BLOCKED", "SINCE", "COMMENT", "PUBLIC COMMENT"), rows):
        print(line)
    return 0


async def run_moderator(args: argparse.Namespace) -> int:
    """Grant or revoke a staff member's moderator flag."""
    async with migrated_connection(settings_from(args)) as conn:
        staff = await get_staff(conn, args.staff)
        changed = await block_queries.set_moderator(conn, staff.id, args.grant)
    state = "is a moderator" if args.grant else "is not a moderator"
    print(f"{staff.username} {state}" + ("" if changed else " (unchanged)"))
    return 0


async def run_moderator_list(args: argparse.Namespace) -> int:
    """The moderators' usernames, one a line."""
    async with migrated_connection(settings_from(args)) as conn:
        names = await block_queries.moderators(conn)
    print("\n".join(names) if names else "no moderators")
    return 0


async def _known_handle(conn: asyncpg.Connection, handle: str) -> str | None:
    """The id of a stored remote actor known as ``@user@host``."""
    username, _, host = handle.strip().lstrip("@").partition("@")
    actor = await remote_actor_by_handle(conn, username, host) if username and host else None
    return None if actor is None else actor.uri


