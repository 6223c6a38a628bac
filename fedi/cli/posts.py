"""``fedi post`` and ``fedi admin post|pin|unpin|follows``: publishing and follower requests.

Input is checked before anything is written: bad input prints ``fedi: error: ...``, exits with
status 2 and changes nothing. Mentions are resolved over the network (WebFinger) before the post
is stored; the deliveries are queued with it and sent by ``fedi worker`` (or ``fedi serve``).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import asyncpg

from actors import queries as actor_queries
from actors.departments import get_department
from actors.errors import NotFound
from actors.follow_queries import ACCEPTED, PENDING, followers
from actors.follows import approve_follow, reject_follow
from actors.remote import ActorResolver
from actors.remote_queries import actor_by_uri
from actors.staff import get_staff
from fedi.assembly import build_http_client
from fedi.cli.context import Database, fail, migrated_connection, settings_from
from fedi.cli.tables import render_table
from fedi.database import connect, create_pool
from fedi.migrate import migrate
from fedi.settings import Settings
from keys.keypairs import KeyVault
from outbox.addressing import VISIBILITIES
from outbox.follow_replies import send_accept, send_reject
from outbox.posts import check_options, check_text, delete_post, edit_post, pin_post, publish_post, unpin_post
from outbox.queries import received_activity

PUBLISHING_ROLES = ("admin", "editor")


def add_parsers(commands: argparse._SubParsersAction) -> None:
    """Register ``post``."""
    post = commands.add_parser("post", help="publish a post as a department")
    post.add_argument("department")
    post.add_argument("text", help="the post's plain text ('-' reads it from standard input)")
    post.add_argument("--visibility", default="public", metavar="|".join(VISIBILITIES), help="who may see it (public)")
    post.add_argument("--reply-to", metavar="URI", help="the id or URL of the post answered (local or remote)")
    post.add_argument("--cw", default="", metavar="TEXT", help="content warning shown before the text")
    post.add_argument("--sensitive", action="store_true", help="mark the post sensitive")
    post.add_argument("--language", metavar="xx", help="ISO 639 language code of the text")
    post.add_argument("--staff", metavar="USERNAME", help="the staff member writing (an admin or editor of the department)")
    post.set_defaults(handler=run_post)


def add_admin_parsers(admin: argparse._SubParsersAction) -> None:
    """Register ``admin post edit|delete``, ``admin pin|unpin`` and ``admin follows list|approve|reject``."""
    post = admin.add_parser("post", help="edit or delete published posts").add_subparsers(
        dest="post_command", required=True, metavar="COMMAND"
    )
    edit = post.add_parser("edit", help="replace a post's text (followers receive the edit)")
    edit.add_argument("uri", help="the post's id or URL")
    edit.add_argument("text", help="the new plain text ('-' reads it from standard input)")
    edit.add_argument("--cw", metavar="TEXT", help="new content warning ('' removes it)")
    edit.add_argument("--sensitive", action=argparse.BooleanOptionalAction, help="mark or unmark the post sensitive")
    edit.add_argument("--language", metavar="xx", help="ISO 639 language code of the text")
    edit.set_defaults(handler=run_edit)
    delete = post.add_parser("delete", help="delete a post everywhere it was delivered")
    delete.add_argument("uri", help="the post's id or URL")
    delete.set_defaults(handler=run_delete)
    for name, handler, text in (("pin", run_pin, "pin a post to its department's profile"), ("unpin", run_unpin, "unpin a post")):
        command = admin.add_parser(name, help=text)
        command.add_argument("uri", help="the post's id or URL")
        command.set_defaults(handler=handler)
    follows = admin.add_parser("follows", help="a department's followers and follow requests").add_subparsers(
        dest="follows_command", required=True, metavar="COMMAND"
    )
    listing = follows.add_parser("list", help="followers, or with --pending the requests awaiting approval")
    listing.add_argument("department")
    listing.add_argument("--pending", action="store_true", help="list the follow requests awaiting approval")
    listing.set_defaults(handler=run_follows_list)
    for name, handler, text in (
        ("approve", run_approve, "accept a pending follow request (sends an Accept)"),
        ("reject", run_reject, "refuse a follow request or remove a follower (sends a Reject)"),
    ):
        command = follows.add_parser(name, help=text)
        command.add_argument("department")
        command.add_argument("actor", metavar="ACTOR_URI", help="the follower's actor id")
        command.set_defaults(handler=handler)


@asynccontextmanager
async def publishing(settings: Settings) -> AsyncIterator[tuple[asyncpg.Connection, ActorResolver]]:
    """A migrated connection and a resolver (its own pool and HTTP client) for commands that resolve mentions."""
    async with AsyncExitStack() as stack:
        database = Database(settings)
        stack.callback(database.close)
        conn = await connect(database.url)
        stack.push_async_callback(conn.close)
        await migrate(conn)
        pool = await create_pool(database.url, min_size=1, max_size=2)
        stack.push_async_callback(pool.close)
        http = await stack.enter_async_context(build_http_client(settings))
        yield conn, ActorResolver(pool, http, settings, KeyVault(settings.secret_key))


def _text(value: str) -> str:
    return check_text(sys.stdin.read() if value == "-" else value)


async def run_post(args: argparse.Namespace) -> int:
    """Publish a post and print its id."""
    text = _text(args.text)
    check_options(args.visibility, args.cw, args.language)
    settings = settings_from(args)
    async with publishing(settings) as (conn, resolver):
        department = await get_department(conn, args.department)
        staff_id = None
        if args.staff is not None:
            staff = await get_staff(conn, args.staff)
            roles = [m.role for m in await actor_queries.memberships(conn, staff_id=staff.id, actor_id=department.id)]
            if not set(roles) & set(PUBLISHING_ROLES):
                fail(f"{staff.username} may not publish as {department.username}: an admin or editor role is needed")
            staff_id = staff.id
        post = await publish_post(
            conn, resolver, settings, department, text, staff_id=staff_id, visibility=args.visibility,
            in_reply_to=args.reply_to, summary=args.cw, sensitive=args.sensitive, language=args.language,
        )
    print(post.uri)
    return 0


async def run_edit(args: argparse.Namespace) -> int:
    """Replace a post's text and print its id."""
    text = _text(args.text)
    settings = settings_from(args)
    async with publishing(settings) as (conn, resolver):
        post = await edit_post(
            conn, resolver, settings, args.uri, text, summary=args.cw, sensitive=args.sensitive, language=args.language
        )
    print(f"edited {post.uri}")
    return 0


async def run_delete(args: argparse.Namespace) -> int:
    """Delete a post."""
    settings = settings_from(args)
    async with migrated_connection(settings) as conn:
        post = await delete_post(conn, settings, args.uri)
    print(f"deleted {post.uri}")
    return 0


async def run_pin(args: argparse.Namespace) -> int:
    """Pin a post to its department's profile."""
    settings = settings_from(args)
    async with migrated_connection(settings) as conn:
        post = await pin_post(conn, settings, args.uri)
    print(f"pinned {post.uri}")
    return 0


async def run_unpin(args: argparse.Namespace) -> int:
    """Unpin a post."""
    settings = settings_from(args)
    async with migrated_connection(settings) as conn:
        post = await unpin_post(conn, settings, args.uri)
    print(f"unpinned {post.uri}")
    return 0


async def run_follows_list(args: argparse.Namespace) -> int:
    """A table of a department's followers (or pending requests), newest first."""
    state = PENDING if args.pending else ACCEPTED
    async with migrated_connection(settings_from(args)) as conn:
        department = await get_department(conn, args.department)
        entries, before = [], None
        while page := await followers(conn, department.id, state, limit=500, before_id=before):
            entries.extend(page)
            before = page[-1].follow_id
    if not entries:
        print("no pending follow requests" if args.pending else "no followers")
        return 0
    rows = [(e.handle, e.actor_uri, e.state, e.created_at.isoformat(timespec="seconds")) for e in entries]
    for line in render_table(("HANDLE", "ACTOR", "STATE", "SINCE"), rows):
        print(line)
    return 0


async def run_approve(args: argparse.Namespace) -> int:
    """Accept a pending follow request and queue the Accept."""
    settings = settings_from(args)
    async with migrated_connection(settings) as conn:
        async with conn.transaction():
            department = await get_department(conn, args.department)
            follow = await approve_follow(conn, department, args.actor)
            follower = await actor_by_uri(conn, args.actor)
            assert follower is not None
            await send_accept(conn, settings, department, follower, follow.uri, await received_activity(conn, follow.uri))
    print(f"approved {args.actor} following {department.username}")
    return 0


async def run_reject(args: argparse.Namespace) -> int:
    """Refuse a follow request (or remove a follower) and queue the Reject."""
    settings = settings_from(args)
    async with migrated_connection(settings) as conn:
        async with conn.transaction():
            department = await get_department(conn, args.department)
            follower = await actor_by_uri(conn, args.actor)
            if follower is None:
                raise NotFound(f"{args.actor} does not follow {department.username}")
            follow = await reject_follow(conn, department, args.actor)
            await send_reject(conn, settings, department, follower, follow.uri, await received_activity(conn, follow.uri))
    print(f"rejected {args.actor} following {department.username}")
    return 0
