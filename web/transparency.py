"""The transparency report: how much each department publishes and how well it answers citizens.

Over the last 7, 30 and 365 days (today included, days in UTC), for every live department and for
the organisation: updates per day, followers and their change, citizen replies received, the share
answered, and the median and 90th-percentile wait for a first answer. The definitions are in
``web.transparency_queries``. ``/transparency`` shows one window (``?days=``) and, with
``?department=``, one department; ``/transparency.json`` carries the same figures for machines.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

import asyncpg

from web import transparency_queries as tq

PERIODS = (7, 30, 365)
DEFAULT_PERIOD = 30


@dataclass(frozen=True)
class Window:
    """The last ``days`` days: from midnight UTC of ``first`` until now (``last`` is today)."""

    days: int
    first: date
    last: date

    @property
    def since(self) -> datetime:
        """When the window opened."""
        return datetime.combine(self.first, time.min, tzinfo=timezone.utc)

    @property
    def weeks(self) -> tuple[date, date]:
        """The Mondays of the window's first and last weeks."""
        return self.first - timedelta(days=self.first.weekday()), self.last - timedelta(days=self.last.weekday())


def window(days: int, today: date | None = None) -> Window:
    """The window of the last ``days`` days ending today (UTC)."""
    last = today or datetime.now(timezone.utc).date()
    return Window(days, last - timedelta(days=days - 1), last)


@dataclass(frozen=True)
class Summary:
    """One department's (or the organisation's) figures over one window."""

    days: int
    updates: int
    followers: int
    followers_change: int
    replies: int
    answered: int
    median_seconds: float | None
    p90_seconds: float | None

    @property
    def updates_per_day(self) -> float:
        """Updates per day over the window."""
        return round(self.updates / self.days, 2)

    @property
    def answered_share(self) -> float | None:
        """The share of citizen replies answered (0 to 1), None when there were none."""
        return round(self.answered / self.replies, 4) if self.replies else None

    def as_json(self) -> dict[str, object]:
        """The figures as ``/transparency.json`` names them."""
        return {
            "days": self.days, "updates": self.updates, "updates_per_day": self.updates_per_day,
            "followers": self.followers, "followers_change": self.followers_change,
            "citizen_replies": self.replies, "answered": self.answered, "answered_share": self.answered_share,
            "median_answer_seconds": _seconds(self.median_seconds), "p90_answer_seconds": _seconds(self.p90_seconds),
        }


@dataclass(frozen=True)
class Series:
    """Day by day and week by week figures over one window."""

    daily_updates: list[tq.DailyValue]
    daily_followers: list[tq.DailyValue]
    weekly: list[tq.WeekActivity]

    def as_json(self) -> dict[str, object]:
        """The series as ``/transparency.json`` names them."""
        return {
            "updates_per_day": [{"date": d.day.isoformat(), "updates": d.value} for d in self.daily_updates],
            "followers": [{"date": d.day.isoformat(), "followers": d.value} for d in self.daily_followers],
            "weekly": [
                {"week_start": w.week.isoformat(), "updates": w.updates, "answers": w.answers} for w in self.weekly
            ],
        }


def _seconds(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


async def summaries(
    conn: asyncpg.Connection, spans: Sequence[Window], department_id: int | None = None
) -> dict[int, dict[int | None, Summary]]:
    """Per window length: the figures of every live department (or of one), and the organisation's under None."""
    sinces = [span.since for span in spans]
    updates = await tq.update_counts(conn, sinces, department_id)
    replies = await tq.reply_stats(conn, sinces, department_id)
    followers = await tq.follower_counts(conn, sinces, department_id)
    result: dict[int, dict[int | None, Summary]] = {span.days: {} for span in spans}
    for key in {*updates, *replies, *followers, None}:
        for index, span in enumerate(spans):
            stats = replies[key][index] if key in replies else tq.ReplyStats()
            follow = followers[key][index] if key in followers else tq.Followers()
            result[span.days][key] = Summary(
                span.days, updates[key][index] if key in updates else 0, follow.now, follow.now - follow.before,
                stats.received, stats.answered, stats.median_seconds, stats.p90_seconds,
            )
    return result


def empty_summary(days: int) -> Summary:
    """The figures of a department with no activity at all."""
    return Summary(days, 0, 0, 0, 0, 0, None, None)


async def all_periods(
    conn: asyncpg.Connection, department_id: int | None = None, today: date | None = None
) -> dict[int, dict[int | None, Summary]]:
    """``summaries`` for every period of the report."""
    return await summaries(conn, [window(days, today) for days in PERIODS], department_id)


async def department_summary(conn: asyncpg.Connection, department_id: int, days: int = DEFAULT_PERIOD) -> Summary:
    """One department's figures over the last ``days`` days, as its page shows them."""
    return (await summaries(conn, [window(days)], department_id))[days].get(department_id, empty_summary(days))


async def series(conn: asyncpg.Connection, span: Window, department_id: int | None) -> Series:
    """The daily and weekly series of one department (or of the organisation for None) over ``span``."""
    first_week, last_week = span.weeks
    return Series(
        await tq.daily_updates(conn, span.since, span.first, span.last, department_id),
        await tq.daily_followers(conn, span.since, span.first, span.last, department_id),
        await tq.weekly_activity(conn, span.since, first_week, last_week, department_id),
    )
