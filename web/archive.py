"""A department's updates by day: ``/@{name}/YYYY-MM-DD`` and the calendar ``/@{name}/archive``.

Days are UTC days. A malformed or future date answers 404; a past day without updates is a page
saying so (not indexed by search engines), with links to the nearest days that have some.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from itertools import groupby

from starlette.requests import Request
from starlette.responses import Response

from actors.queries import local_actor_by_username
from fedi.templating import render_page
from web import queries
from web.pages import department_missing, message_page, shown
from web.queries import DayCount
from web.site import request_site

DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
WEEKDAYS = [(calendar.day_abbr[i], calendar.day_name[i]) for i in range(7)]


@dataclass(frozen=True)
class Month:
    """A month of the calendar: its weeks (Monday first), each day with its number of updates or None outside it."""

    year: int
    month: int
    updates: int
    weeks: list[list[DayCount | None]]

    @property
    def name(self) -> str:
        """``May 2024``."""
        return f"{calendar.month_name[self.month]} {self.year}"


def parse_day(value: str) -> date | None:
    """The date ``YYYY-MM-DD`` names, or None when it names none."""
    if not DATE_RE.match(value):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def months(days: list[DayCount]) -> list[Month]:
    """The months having updates, newest first, laid out as calendars."""
    counts = {d.day: d.updates for d in days}
    result = []
    for (year, month), in_month in groupby(days, key=lambda d: (d.day.year, d.day.month)):
        weeks = [
            [DayCount(day, counts.get(day, 0)) if day.month == month else None for day in week]
            for week in calendar.Calendar(calendar.MONDAY).monthdatescalendar(year, month)
        ]
        result.append(Month(year, month, sum(d.updates for d in in_month), weeks))
    return result


async def day_page(request: Request) -> Response:
    """``/@{name}/YYYY-MM-DD``: the department's updates of that day, oldest first."""
    site = request_site(request)
    username = request.path_params["username"]
    day = parse_day(request.path_params["day"])
    if day is None or day > datetime.now(timezone.utc).date():
        return message_page(site, 404, "Not found", "There is no such page; days are written like 2024-05-31.")
    start = datetime.combine(day, time.min, tzinfo=timezone.utc)
    end = start + timedelta(days=1)
    async with request.state.pool.acquire() as conn:
        department = await local_actor_by_username(conn, username, include_deleted=True)
        if department is None or department.deleted_at is not None:
            return department_missing(site, username, department)
        entries = await queries.updates_between(conn, department.id, start, end)
        previous, following = await queries.neighbour_days(conn, department.id, start, end)
    return render_page(
        "web_day.html", site=site, department=department, day=day, posts=[shown(e, site) for e in entries],
        previous=previous, following=following,
    )


async def calendar_page(request: Request) -> Response:
    """``/@{name}/archive``: the months with updates, their days linked to the day pages."""
    site = request_site(request)
    username = request.path_params["username"]
    async with request.state.pool.acquire() as conn:
        department = await local_actor_by_username(conn, username, include_deleted=True)
        if department is None or department.deleted_at is not None:
            return department_missing(site, username, department)
        days = await queries.update_days(conn, department.id)
    by_year = [(year, list(group)) for year, group in groupby(months(days), key=lambda m: m.year)]
    return render_page(
        "web_archive.html", site=site, department=department, years=by_year, weekdays=WEEKDAYS,
        total=sum(d.updates for d in days),
    )
