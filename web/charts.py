"""Small SVG charts drawn on the server: no script, a title and a description for screen readers.

Each chart is an ``<svg role="img">`` labelled by its ``<title>`` and described by its ``<desc>``
(which states the range and the totals); the pages also give the numbers as a table.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date
from html import escape

from markupsafe import Markup

from web.transparency_queries import DailyValue, WeekActivity

WIDTH, LEFT, RIGHT, TOP, BOTTOM = 600, 48, 12, 14, 32
UPDATES_COLOUR = "#0b57d0"
ANSWERS_COLOUR = "#a34a00"
FOLLOWERS_COLOUR = "#00695c"
GRID_COLOUR = "#d0d5dd"
TEXT_COLOUR = "#4d4d4d"
MAX_LABELS = 6
LABEL_MARGIN = 36


def nice_ceiling(value: int) -> int:
    """The smallest of 1, 2, 5, 10, 20, 50… at least ``value``."""
    if value <= 1:
        return 1
    power = 10 ** math.floor(math.log10(value))
    return next(step * power for step in (1, 2, 5, 10) if step * power >= value)


def _ticks(top: int) -> list[int]:
    return sorted({0, top // 2, top}) if top % 2 == 0 else [0, top]


def short_date(day: date) -> str:
    """``6 May`` (the day without a leading zero, then the month's abbreviation)."""
    return f"{day.day} {day.strftime('%b')}"


def _frame(chart_id: str, height: int, title: str, description: str) -> list[str]:
    return [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" role="img" aria-labelledby="{chart_id}-title {chart_id}-desc"'
        f' xmlns="http://www.w3.org/2000/svg" font-family="system-ui, sans-serif" font-size="13">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(description)}</desc>',
    ]


def _axis(parts: list[str], top: int, height: int, low: int = 0) -> None:
    """Horizontal grid lines and their labels from ``low`` to ``top``."""
    plot = height - TOP - BOTTOM
    values = _ticks(top - low)
    for tick in values:
        y = TOP + plot - plot * tick / max(top - low, 1)
        parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="{GRID_COLOUR}"/>')
        parts.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" fill="{TEXT_COLOUR}">{tick + low}</text>')


def _labels(parts: list[str], labels: Sequence[str], centre: Sequence[float], height: int) -> None:
    every = max(1, math.ceil(len(labels) / MAX_LABELS))
    for index in range(0, len(labels), every):
        x = min(max(centre[index], LABEL_MARGIN), WIDTH - LABEL_MARGIN)  # keep the text inside the picture
        parts.append(
            f'<text x="{x:.1f}" y="{height - 8}" text-anchor="middle" fill="{TEXT_COLOUR}">{escape(labels[index])}</text>'
        )


def weekly_chart(weeks: Sequence[WeekActivity], chart_id: str, title: str, height: int = 240) -> Markup:
    """Grouped bars of updates and answers per week."""
    total_updates, total_answers = sum(w.updates for w in weeks), sum(w.answers for w in weeks)
    span = f"the weeks of {short_date(weeks[0].week)} to {short_date(weeks[-1].week)}" if weeks else "no weeks"
    busiest = max(weeks, key=lambda w: w.updates + w.answers, default=None)
    description = f"Bar chart of {span}: {total_updates} updates and {total_answers} answers to citizens in all."
    if busiest is not None and busiest.updates + busiest.answers:
        description += f" Busiest week: {short_date(busiest.week)}, {busiest.updates} updates, {busiest.answers} answers."
    parts = _frame(chart_id, height, title, description)
    top = nice_ceiling(max([w.updates for w in weeks] + [w.answers for w in weeks] + [1]))
    _axis(parts, top, height)
    plot_width, plot_height = WIDTH - LEFT - RIGHT, height - TOP - BOTTOM
    group = plot_width / max(len(weeks), 1)
    bar = group * 0.38
    centres = []
    for index, week in enumerate(weeks):
        x = LEFT + index * group + group * 0.12
        for offset, value, colour in ((0.0, week.updates, UPDATES_COLOUR), (bar, week.answers, ANSWERS_COLOUR)):
            size = plot_height * value / top
            parts.append(
                f'<rect x="{x + offset:.1f}" y="{TOP + plot_height - size:.1f}" width="{bar:.1f}" '
                f'height="{size:.1f}" fill="{colour}"/>'
            )
        centres.append(x + bar)
    _labels(parts, [short_date(w.week) for w in weeks], centres, height)
    parts.append("</svg>")
    return Markup("".join(parts))


def followers_chart(days: Sequence[DailyValue], chart_id: str, title: str, height: int = 180) -> Markup:
    """A line of the follower count at the end of each day."""
    values = [d.value for d in days] or [0]
    low, high = min(values), max(values)
    span = f"{short_date(days[0].day)} to {short_date(days[-1].day)}" if days else "no days"
    description = f"Line chart from {span}: {values[0]} followers at the start, {values[-1]} at the end, at most {high}."
    parts = _frame(chart_id, height, title, description)
    low = max(0, low - (low % 10))
    top = low + nice_ceiling(max(high - low, 1))
    _axis(parts, top, height, low)
    plot_width, plot_height = WIDTH - LEFT - RIGHT, height - TOP - BOTTOM
    step = plot_width / max(len(values) - 1, 1)
    scale = plot_height / (top - low)
    points = " ".join(f"{LEFT + i * step:.1f},{TOP + plot_height - scale * (v - low):.1f}" for i, v in enumerate(values))
    parts.append(f'<polyline points="{points}" fill="none" stroke="{FOLLOWERS_COLOUR}" stroke-width="2.5"/>')
    _labels(parts, [short_date(d.day) for d in days], [LEFT + i * step for i in range(len(days))], height)
    parts.append("</svg>")
    return Markup("".join(parts))
