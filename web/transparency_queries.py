"""SQL for the transparency report: each function takes the caller's connection first.

Counts cover live departments only, grouped by department with ``ROLLUP`` so that the row whose
department is None is the organisation's total. Days and weeks are UTC; weeks start on Monday.

- An *update* is defined in ``web.queries.UPDATE`` (a live public post that answers no one else).
- A *citizen reply* is a live remote post replying to a department's post, from an actor the
  department does not block; every visibility counts (the report shows numbers, never the posts).
  It is received when it reached this server (``created_at``: remote clocks are not trusted).
- It is *answered* once the department posts a reply to it (any visibility, not deleted); the wait
  is from its arrival to the first such answer.
- An *answer*, in the weekly series, is a department post replying to a remote post.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

import asyncpg

from actors.queries import DEPARTMENT_TYPE
from web.queries import UPDATE

_LIVE = "d.local AND d.actor_type = $1 AND d.deleted_at IS NULL"
_WAIT = "CASE WHEN seconds < 0 THEN 0 ELSE seconds END"  # NULL (unanswered) stays NULL, and is left out
_ANSWER = """p.local AND p.deleted_at IS NULL
    AND EXISTS (SELECT 1 FROM posts c WHERE c.uri = p.in_reply_to_uri AND NOT c.local)"""


@dataclass(frozen=True)
class ReplyStats:
    """Citizen replies received in a window, how many were answered, and the waits for the answers."""

    received: int = 0
    answered: int = 0
    median_seconds: float | None = None
    p90_seconds: float | None = None


@dataclass(frozen=True)
class Followers:
    """Followers now and when a window began."""

    now: int = 0
    before: int = 0


@dataclass(frozen=True)
class DailyValue:
    """One day of a series."""

    day: date
    value: int


@dataclass(frozen=True)
class WeekActivity:
    """Updates and answers published in the week starting ``week`` (a Monday)."""

    week: date
    updates: int
    answers: int


def _filters(column: str, count: int, first: int) -> list[str]:
    """``FILTER`` conditions ``column >= $first``, ``column >= $first+1``… one per window."""
    return [f"FILTER (WHERE {column} >= ${first + i})" for i in range(count)]


def _scope(column: str, department_id: int | None, parameter: int) -> str:
    """The condition narrowing a query to one department, when one is asked for."""
    return "" if department_id is None else f"AND {column} = ${parameter}"


def _optional(department_id: int | None) -> list[int]:
    """The department's id as the last argument of a query narrowed to it, or nothing."""
    return [] if department_id is None else [department_id]


def _arguments(sinces: Sequence[datetime], department_id: int | None) -> list[object]:
    """$1 the department type, $2 the earliest start, then each window's start, then the department."""
    return [DEPARTMENT_TYPE, min(sinces), *sinces, *_optional(department_id)]


async def update_counts(
    conn: asyncpg.Connection, sinces: Sequence[datetime], department_id: int | None = None
) -> dict[int | None, list[int]]:
    """Updates published since each of ``sinces``, per live department (or one) and in all (key None)."""
    counts = ", ".join(f"count(*) {f} AS n{i}" for i, f in enumerate(_filters("p.published_at", len(sinces), 3)))
    rows = await conn.fetch(
        f"""SELECT p.author_id, {counts} FROM posts p JOIN actors d ON d.id = p.author_id
            WHERE {UPDATE} AND {_LIVE} AND p.published_at >= $2 {_scope("d.id", department_id, 3 + len(sinces))}
            GROUP BY ROLLUP (p.author_id)""",
        *_arguments(sinces, department_id),
    )
    return {r["author_id"]: [r[f"n{i}"] for i in range(len(sinces))] for r in rows}


async def reply_stats(
    conn: asyncpg.Connection, sinces: Sequence[datetime], department_id: int | None = None
) -> dict[int | None, list[ReplyStats]]:
    """Citizen replies received since each of ``sinces``, the answered ones and the waits, per department and in all."""
    columns = ", ".join(
        f"""count(*) {f} AS received{i}, count(seconds) {f} AS answered{i},
            percentile_cont(0.5) WITHIN GROUP (ORDER BY {_WAIT}) {f} AS median{i},
            percentile_cont(0.9) WITHIN GROUP (ORDER BY {_WAIT}) {f} AS p90_{i}"""
        for i, f in enumerate(_filters("created_at", len(sinces), 3))
    )
    rows = await conn.fetch(
        f"""WITH received AS (
                SELECT d.id AS department_id, r.uri, r.created_at
                FROM posts r JOIN posts parent ON parent.id = r.in_reply_to_id JOIN actors d ON d.id = parent.author_id
                WHERE NOT r.local AND r.in_reply_to_id IS NOT NULL AND r.deleted_at IS NULL AND r.created_at >= $2
                  AND {_LIVE} {_scope("d.id", department_id, 3 + len(sinces))}
                  AND NOT EXISTS (SELECT 1 FROM blocks b WHERE b.blocker_id = d.id AND b.blocked_id = r.author_id)),
            answers AS (
                SELECT a.in_reply_to_uri, a.author_id, min(a.published_at) AS first_at FROM posts a
                WHERE a.local AND a.deleted_at IS NULL AND a.in_reply_to_uri IS NOT NULL AND a.published_at >= $2
                GROUP BY 1, 2),
            waits AS (
                SELECT department_id, created_at, extract(epoch FROM first_at - created_at) AS seconds
                FROM received LEFT JOIN answers
                  ON answers.in_reply_to_uri = received.uri AND answers.author_id = received.department_id)
            SELECT department_id, {columns} FROM waits GROUP BY ROLLUP (department_id)""",
        *_arguments(sinces, department_id),
    )
    return {
        r["department_id"]: [
            ReplyStats(r[f"received{i}"], r[f"answered{i}"], r[f"median{i}"], r[f"p90_{i}"]) for i in range(len(sinces))
        ]
        for r in rows
    }


async def follower_counts(
    conn: asyncpg.Connection, sinces: Sequence[datetime], department_id: int | None = None
) -> dict[int | None, list[Followers]]:
    """Followers now and at each of ``sinces``, per department (or one) and summed over all of them (key None)."""
    before = ", ".join(
        f"COALESCE(sum(e.delta) FILTER (WHERE e.occurred_at < ${2 + i}), 0) AS before{i}" for i in range(len(sinces))
    )
    rows = await conn.fetch(
        f"""SELECT e.followee_id, COALESCE(sum(e.delta), 0) AS now, {before}
            FROM follow_events e JOIN actors d ON d.id = e.followee_id
            WHERE {_LIVE} {_scope("d.id", department_id, 2 + len(sinces))}
            GROUP BY ROLLUP (e.followee_id)""",
        DEPARTMENT_TYPE, *sinces, *_optional(department_id),
    )
    return {r["followee_id"]: [Followers(r["now"], r[f"before{i}"]) for i in range(len(sinces))] for r in rows}


async def daily_updates(
    conn: asyncpg.Connection, since: datetime, first: date, last: date, department_id: int | None
) -> list[DailyValue]:
    """Updates per day from ``first`` to ``last`` of one department, or of all for None."""
    rows = await conn.fetch(
        f"""WITH counted AS (
                SELECT (p.published_at AT TIME ZONE 'UTC')::date AS day, count(*) AS n
                FROM posts p JOIN actors d ON d.id = p.author_id
                WHERE {UPDATE} AND {_LIVE} AND p.published_at >= $2 {_scope("p.author_id", department_id, 5)}
                GROUP BY 1)
            SELECT s.day::date AS day, COALESCE(c.n, 0) AS value
            FROM generate_series($3::date, $4::date, interval '1 day') AS s (day) LEFT JOIN counted c ON c.day = s.day::date
            ORDER BY 1""",
        DEPARTMENT_TYPE, since, first, last, *_optional(department_id),
    )
    return [DailyValue(**dict(r)) for r in rows]


async def daily_followers(
    conn: asyncpg.Connection, since: datetime, first: date, last: date, department_id: int | None
) -> list[DailyValue]:
    """Followers at the end of each day from ``first`` to ``last`` (summed over departments for None)."""
    rows = await conn.fetch(
        f"""WITH events AS (
                SELECT e.occurred_at, e.delta FROM follow_events e JOIN actors d ON d.id = e.followee_id
                WHERE {_LIVE} {_scope("e.followee_id", department_id, 5)}),
            changes AS (
                SELECT (occurred_at AT TIME ZONE 'UTC')::date AS day, sum(delta) AS delta FROM events
                WHERE occurred_at >= $2 GROUP BY 1)
            SELECT s.day::date AS day,
                   (SELECT COALESCE(sum(delta), 0) FROM events WHERE occurred_at < $2)
                   + sum(COALESCE(c.delta, 0)) OVER (ORDER BY s.day) AS value
            FROM generate_series($3::date, $4::date, interval '1 day') AS s (day) LEFT JOIN changes c ON c.day = s.day::date
            ORDER BY 1""",
        DEPARTMENT_TYPE, since, first, last, *_optional(department_id),
    )
    return [DailyValue(r["day"], int(r["value"])) for r in rows]


async def weekly_activity(
    conn: asyncpg.Connection, since: datetime, first_week: date, last_week: date, department_id: int | None
) -> list[WeekActivity]:
    """Updates and answers per week (Mondays from ``first_week`` to ``last_week``), published since ``since``."""
    rows = await conn.fetch(
        f"""WITH counted AS (
                SELECT date_trunc('week', p.published_at AT TIME ZONE 'UTC')::date AS week,
                       count(*) FILTER (WHERE {UPDATE}) AS updates, count(*) FILTER (WHERE {_ANSWER}) AS answers
                FROM posts p JOIN actors d ON d.id = p.author_id
                WHERE p.local AND {_LIVE} AND p.published_at >= $2 {_scope("p.author_id", department_id, 5)}
                GROUP BY 1)
            SELECT s.week::date AS week, COALESCE(c.updates, 0) AS updates, COALESCE(c.answers, 0) AS answers
            FROM generate_series($3::date, $4::date, interval '1 week') AS s (week)
            LEFT JOIN counted c ON c.week = s.week::date
            ORDER BY 1""",
        DEPARTMENT_TYPE, since, first_week, last_week, *_optional(department_id),
    )
    return [WeekActivity(**dict(r)) for r in rows]
