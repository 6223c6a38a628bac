"""``fedi like|unlike|boost|unboost``: a department's likes and boosts of local and remote posts.

Input is checked before anything is written: bad input prints ``fedi: error: ...``, exits with
status 2 and changes nothing. A remote post not known yet is fetched (with its author) before
anything is stored; the activities are queued and sent by ``fedi worker`` (or ``fedi serve``).
Liking or boosting a post twice changes nothing.
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable

import asyncpg

from actors.departments import get_department
from actors.queries import Actor
from actors.remote import ActorResolver
from fedi.cli.context import migrated_connection, settings_from
from fedi.cli.posts import publishing
from fedi.settings import Settings
from outbox.interaction_queries import Interaction
from outbox.interactions import boost_post, like_post, unboost_post, unlike_post

Action = Callable[[asyncpg.Connection, ActorResolver, Settings, Actor, str], Awaitable[Interaction]]
Undo = Callable[[asyncpg.Connection, Settings, Actor, str], Awaitable[Interaction]]


def add_parsers(commands: argparse._SubParsersAction) -> None:
    """Register ``like``, ``unlike``, ``boost`` and ``unboost``."""
    for name, handler, text in (
        ("like", run_like, "like a post (local or remote) as a department; its author is told"),
        ("unlike", run_unlike, "take back a department's like of a post"),
        ("boost", run_boost, "boost a public or unlisted post as a department; its author and the followers are told"),
        ("unboost", run_unboost, "take back a department's boost of a post"),
    ):
        command = commands.add_parser(name, help=text)
        command.add_argument("department")
        command.add_argument("uri", metavar="URI", help="the post's id or URL")
        command.set_defaults(handler=handler)


async def _act(args: argparse.Namespace, action: Action, done: str) -> int:
    settings = settings_from(args)
    async with publishing(settings) as (conn, resolver):
        department = await get_department(conn, args.department)
        interaction = await action(conn, resolver, settings, department, args.uri)
    print(f"{done} {interaction.post_uri}")
    return 0


async def _undo(args: argparse.Namespace, undo: Undo, done: str) -> int:
    settings = settings_from(args)
    async with migrated_connection(settings) as conn:
        department = await get_department(conn, args.department)
        interaction = await undo(conn, settings, department, args.uri)
    print(f"{done} {interaction.post_uri}")
    return 0


async def run_like(args: argparse.Namespace) -> int:
    """Like a post and print its id."""
    return await _act(args, like_post, "liked")


async def run_unlike(args: argparse.Namespace) -> int:
    """Take back a like and print the post's id."""
    return await _undo(args, unlike_post, "unliked")


async def run_boost(args: argparse.Namespace) -> int:
    """Boost a post and print its id."""
    return await _act(args, boost_post, "boosted")


async def run_unboost(args: argparse.Namespace) -> int:
    """Take back a boost and print the post's id."""
    return await _undo(args, unboost_post, "unboosted")
