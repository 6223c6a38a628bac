"""``/transparency`` and ``/transparency.json``: the report of ``web.transparency`` for people and machines."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from starlette.requests import Request
from starlette.responses import Response

from actors.queries import Actor, list_departments, local_actor_by_username
from fedi.responses import JSONResponse
from fedi.templating import render_page
from web.charts import followers_chart, weekly_chart
from web.content import duration
from web.pages import message_page
from web.report_cache import CACHE_SECONDS, report_cache
from web.site import Site, request_site
from web.transparency import DEFAULT_PERIOD, PERIODS, Series, Summary, all_periods, empty_summary, series, window


@dataclass(frozen=True)
class Report:
    """The figures of one subject (a department, or the organisation when ``department`` is None)."""

    department: Actor | None
    days: int
    periods: dict[int, Summary]
    series: Series
    departments: list[tuple[Actor, dict[int, Summary]]]
    generated_at: datetime

    @property
    def selected(self) -> Summary:
        """The figures of the chosen window."""
        return self.periods[self.days]


@dataclass(frozen=True)
class Query:
    """What the report was asked for."""

    days: int
    username: str | None


def read_query(request: Request) -> Query:
    """``?days=`` (7, 30 or 365) and ``?department=``; raises ValueError when they are wrong."""
    value = request.query_params.get("days", "") or str(DEFAULT_PERIOD)
    if not value.isdigit() or int(value) not in PERIODS:
        raise ValueError(f"days must be one of {', '.join(map(str, PERIODS))}")
    username = request.query_params.get("department") or None
    return Query(int(value), None if username is None else username.lower())


async def build_report(request: Request, query: Query) -> Report | None:
    """The report asked for (from the cache when fresh), or None when the department is not a live one."""
    cache = report_cache(request)
    cached = cache.get(query)
    if isinstance(cached, Report):
        return cached
    report = await _compute(request, query)
    if report is not None:
        cache.put(query, report)
    return report


async def _compute(request: Request, query: Query) -> Report | None:
    async with request.state.pool.acquire() as conn:
        department = None
        if query.username is not None:
            department = await local_actor_by_username(conn, query.username)
            if department is None:
                return None
        figures = await all_periods(conn, None if department is None else department.id)
        chosen = await series(conn, window(query.days), None if department is None else department.id)
        listed = await list_departments(conn) if department is None else []
    key = None if department is None else department.id
    periods = {days: figures[days].get(key, empty_summary(days)) for days in PERIODS}
    rows = [(d, {days: figures[days].get(d.id, empty_summary(days)) for days in PERIODS}) for d in listed]
    return Report(department, query.days, periods, chosen, rows, datetime.now(timezone.utc))


def _department_json(site: Site, department: Actor) -> dict[str, object]:
    return {
        "username": department.username, "name": department.display_name or department.username,
        "area": department.area, "url": site.profile(department.username),
    }


def render_json(site: Site, report: Report) -> dict[str, object]:
    """The report as ``/transparency.json`` serves it."""
    return {
        "organisation": site.name,
        "generated_at": report.generated_at.isoformat(timespec="seconds"),
        "time_zone": "UTC",
        "department": None if report.department is None else _department_json(site, report.department),
        "periods": {str(days): summary.as_json() for days, summary in report.periods.items()},
        "series": {"days": report.days, **report.series.as_json()},
        "departments": [
            {**_department_json(site, d), "periods": {str(days): s.as_json() for days, s in figures.items()}}
            for d, figures in report.departments
        ],
    }


async def transparency_json(request: Request) -> Response:
    """``/transparency.json``: the figures, open to any site (CORS) and cacheable for a few minutes."""
    site = request_site(request)
    headers = {"Cache-Control": f"public, max-age={CACHE_SECONDS}", "Access-Control-Allow-Origin": "*"}
    try:
        query = read_query(request)
    except ValueError as exc:
        return JSONResponse({"error": str(exc)}, 400, headers=headers)
    report = await build_report(request, query)
    if report is None:
        return JSONResponse({"error": f"no department named {query.username!r}"}, 404, headers=headers)
    return JSONResponse(render_json(site, report), headers=headers)


async def transparency_page(request: Request) -> Response:
    """``/transparency``: the figures of the organisation or of one department, with charts."""
    site = request_site(request)
    try:
        query = read_query(request)
    except ValueError as exc:
        return message_page(site, 400, "Bad request", str(exc))
    report = await build_report(request, query)
    if report is None:
        return message_page(site, 404, "No such department", f"There is no department named {query.username}.")
    subject = site.name if report.department is None else report.department.display_name or report.department.username
    return render_page(
        "web_transparency.html", headers={"Cache-Control": f"public, max-age={CACHE_SECONDS}"},
        site=site, report=report, subject=subject, periods=PERIODS, duration=duration,
        weekly=weekly_chart(report.series.weekly, "weekly", f"Updates and answers per week, {subject}"),
        followers=followers_chart(report.series.daily_followers, "followers", f"Followers per day, {subject}"),
    )
