"""SQL for the account endpoints: counts for many accounts at once, follow lists by page, relationships,
markers and the instance's figures. Each function takes the caller's connection first."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime

import asyncpg

from actors.queries import ACTOR_COLUMNS, Actor
from api.accounts.entities import AccountStats, RelationshipFlags
from api.pagination import Page
from outbox.queries import LISTED

_A_COLUMNS = ", ".join(f"a.{c}" for c in ACTOR_COLUMNS.split(", "))
_X_COLUMNS = ", ".join(f"x.{c}" for c in ACTOR_COLUMNS.split(", "))
# Which end of a follow is the listed account: followers are the follower_id of follows of the account.
_SIDES = {"followers": ("followee_id", "follower_id"), "following": ("follower_id", "followee_id")}


@dataclass(frozen=True)
class Marker:
    """A saved reading position."""

    timeline: str
    last_read_id: int
    version: int
    updated_at: datetime


# The counts of account ``x.id`` ($LISTED: the visibilities counted as statuses).
_STATS = """(SELECT count(*) FROM follows f WHERE f.followee_id = x.id AND f.state = 'accepted') AS followers,
            (SELECT count(*) FROM follows f WHERE f.follower_id = x.id AND f.state = 'accepted') AS following,
            (SELECT count(*) FROM posts p WHERE p.author_id = x.id AND p.deleted_at IS NULL
               AND p.visibility = ANY($LISTED::text[])) AS statuses,
            (SELECT max(p.published_at) FROM posts p WHERE p.author_id = x.id AND p.deleted_at IS NULL
               AND p.visibility = ANY($LISTED::text[])) AS last_status_at"""
_STAT_NAMES = ("followers", "following", "statuses", "last_status_at")
ACCOUNT_WIDTH = len(ACTOR_COLUMNS.split(", ")) + len(_STAT_NAMES)
if ACTOR_COLUMNS.split(", ") != [f.name for f in fields(Actor)]:
    raise ImportError("ACTOR_COLUMNS must name Actor's fields in their order")


def account_columns(listed: str) -> str:
    """The SQL columns of actor ``x`` and its Account counts (read back by ``account_of``); ``listed`` is the
    placeholder of the visibilities counted as statuses."""
    return f"{_X_COLUMNS}, {_STATS.replace('$LISTED', listed)}"


def account_of(row: asyncpg.Record, start: int = 0) -> tuple[Actor, AccountStats]:
    """The actor and counts in the ``account_columns`` of ``row`` that begin at column ``start``."""
    values = [row[i] for i in range(start, start + ACCOUNT_WIDTH)]
    return Actor(*values[: -len(_STAT_NAMES)]), AccountStats(*values[-len(_STAT_NAMES):])


def _stats(row: asyncpg.Record) -> AccountStats:
    return AccountStats(row["followers"], row["following"], row["statuses"], row["last_status_at"])


async def account_stats(conn: asyncpg.Connection, actor_ids: Sequence[int]) -> dict[int, AccountStats]:
    """Accepted followers and follows, live public/unlisted posts and the latest one's time, per account."""
    rows = await conn.fetch(
        f"SELECT x.id, {_STATS.replace('$LISTED', '$2')} FROM unnest($1::bigint[]) AS x(id)",
        list(set(actor_ids)), list(LISTED),
    )
    return {r["id"]: _stats(r) for r in rows}


async def follow_page(
    conn: asyncpg.Connection, actor_id: int, side: str, state: str, page: Page
) -> list[tuple[int, Actor]]:
    """(follow id, account) of an account's followers or follows in ``state``, newest follow first."""
    mine, theirs = _SIDES[side]
    order = "ASC" if page.ascending else "DESC"
    lower = page.min_id if page.ascending else page.since_id
    rows = await conn.fetch(
        f"""SELECT f.id AS follow_id, {_A_COLUMNS} FROM follows f JOIN actors a ON a.id = f.{theirs}
            WHERE f.{mine} = $1 AND f.state = $2 AND a.deleted_at IS NULL
              AND ($3::bigint IS NULL OR f.id < $3) AND ($4::bigint IS NULL OR f.id > $4)
            ORDER BY f.id {order} LIMIT $5""",
        actor_id, state, page.max_id, lower, page.limit,
    )
    found = [(r["follow_id"], Actor(**{k: v for k, v in dict(r).items() if k != "follow_id"})) for r in rows]
    return found[::-1] if page.ascending else found


async def count_follow_requests(conn: asyncpg.Connection, actor_id: int) -> int:
    """How many follow requests of an account wait for approval."""
    return int(
        await conn.fetchval("SELECT count(*) FROM follows WHERE followee_id = $1 AND state = 'pending'", actor_id)
    )


async def relationships(conn: asyncpg.Connection, actor_id: int, other_ids: Sequence[int]) -> list[RelationshipFlags]:
    """How ``actor_id`` stands to each existing account of ``other_ids``, in the order given."""
    rows = await conn.fetch(
        """SELECT x.id, mine.state AS mine, theirs.state AS theirs,
                  EXISTS (SELECT 1 FROM blocks b WHERE b.blocker_id = $1 AND b.blocked_id = x.id) AS blocking,
                  EXISTS (SELECT 1 FROM blocks b WHERE b.blocker_id = x.id AND b.blocked_id = $1) AS blocked_by
           FROM unnest($2::bigint[]) WITH ORDINALITY AS x(id, n)
           JOIN actors a ON a.id = x.id AND a.deleted_at IS NULL
           LEFT JOIN follows mine ON mine.follower_id = $1 AND mine.followee_id = x.id
           LEFT JOIN follows theirs ON theirs.follower_id = x.id AND theirs.followee_id = $1
           ORDER BY x.n""",
        actor_id, list(other_ids),
    )
    return [
        RelationshipFlags(
            r["id"], following=r["mine"] == "accepted", requested=r["mine"] == "pending",
            followed_by=r["theirs"] == "accepted", requested_by=r["theirs"] == "pending",
            blocking=r["blocking"], blocked_by=r["blocked_by"],
        )
        for r in rows
    ]


async def markers(conn: asyncpg.Connection, staff_id: int, actor_id: int, timelines: Sequence[str]) -> list[Marker]:
    """A staff member's saved positions in the department's ``timelines``."""
    rows = await conn.fetch(
        """SELECT timeline, last_read_id, version, updated_at FROM markers
           WHERE staff_id = $1 AND actor_id = $2 AND timeline = ANY($3::text[]) ORDER BY timeline""",
        staff_id, actor_id, list(timelines),
    )
    return [Marker(**dict(r)) for r in rows]


async def save_marker(
    conn: asyncpg.Connection, staff_id: int, actor_id: int, timeline: str, last_read_id: int
) -> Marker:
    """Set a reading position, counting its versions."""
    row = await conn.fetchrow(
        """INSERT INTO markers (staff_id, actor_id, timeline, last_read_id) VALUES ($1, $2, $3, $4)
           ON CONFLICT (staff_id, actor_id, timeline) DO UPDATE
               SET last_read_id = EXCLUDED.last_read_id, version = markers.version + 1, updated_at = now()
           RETURNING timeline, last_read_id, version, updated_at""",
        staff_id, actor_id, timeline, last_read_id,
    )
    return Marker(**dict(row))


async def instance_figures(conn: asyncpg.Connection) -> tuple[int, int]:
    """Live local public/unlisted posts, and the remote domains this server knows actors of."""
    row = await conn.fetchrow(
        """SELECT (SELECT count(*) FROM posts
                   WHERE local AND deleted_at IS NULL AND visibility = ANY($1::text[])) AS posts,
                  (SELECT count(DISTINCT domain) FROM actors WHERE NOT local) AS domains""",
        list(LISTED),
    )
    return int(row["posts"]), int(row["domains"])
