"""Finding accounts by id or handle and rendering many at once (one query for all their counts).

The statuses and notifications endpoints render their accounts with ``render_accounts`` too.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import asyncpg

from actors.queries import DEPARTMENT_TYPE, Actor, local_actor_by_username
from actors.remote_queries import actor_by_id, remote_actor_by_handle
from api.accounts.entities import AccountStats, render_account
from api.accounts.queries import account_stats
from api.errors import NotFoundError

RECORD_NOT_FOUND = "Record not found"
ID_RE = re.compile(r"^[0-9]{1,18}$")


def is_listed(actor: Actor) -> bool:
    """Whether the API shows this actor as an account: live departments and remote actors (not the instance actor)."""
    return actor.deleted_at is None and (not actor.local or actor.actor_type == DEPARTMENT_TYPE)


async def find_account(conn: asyncpg.Connection, account_id: str) -> Actor:
    """The account with this id (a string on the wire), or 404."""
    actor = await actor_by_id(conn, int(account_id)) if ID_RE.match(account_id) else None
    if actor is None or not is_listed(actor):
        raise NotFoundError(RECORD_NOT_FOUND)
    return actor


async def find_by_acct(conn: asyncpg.Connection, acct: str, local_domain: str) -> Actor:
    """The account known as ``user`` or ``user@domain`` (no network lookup, as Mastodon's lookup), or 404."""
    username, _, domain = acct.strip().lstrip("@").partition("@")
    domain = domain.lower()
    if not username:
        raise NotFoundError(RECORD_NOT_FOUND)
    if not domain or domain == local_domain:
        actor = await local_actor_by_username(conn, username)
    else:
        actor = await remote_actor_by_handle(conn, username, domain)
    if actor is None or not is_listed(actor):
        raise NotFoundError(RECORD_NOT_FOUND)
    return actor


async def render_accounts(conn: asyncpg.Connection, base_url: str, actors: Sequence[Actor]) -> list[dict[str, Any]]:
    """Account entities for ``actors``, in order."""
    stats = await account_stats(conn, [a.id for a in actors])
    return [render_account(a, stats.get(a.id, AccountStats()), base_url) for a in actors]


async def render_one(conn: asyncpg.Connection, base_url: str, actor: Actor) -> dict[str, Any]:
    """The Account entity of one actor."""
    return (await render_accounts(conn, base_url, [actor]))[0]
