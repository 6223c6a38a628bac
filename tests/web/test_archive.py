"""The daily archive ``/@{name}/YYYY-MM-DD`` and the calendar of days with updates ``/@{name}/archive``."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import asyncpg

from actors.departments import delete_department
from actors.queries import LocalActor
from actors.remote import ActorResolver
from fedi.settings import Settings
from keys.keypairs import KeyVault
from outbox.posts import delete_post, publish_post
from tests.factories import make_department
from tests.web.conftest import Fetch, citizen_reply, set_published
from web.archive import months, parse_day
from web.queries import DayCount


async def publish_at(
    conn: asyncpg.Connection, resolver: ActorResolver, settings: Settings, department: LocalActor, text: str,
    when: datetime, **options: str,
) -> str:
    """Publish a post dated ``when``; return its URI."""
    post = await publish_post(conn, resolver, settings, department, text, **options)
    await set_published(conn, post.id, when)
    return post.uri


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=timezone.utc)


async def test_a_day_page_lists_that_days_public_updates_oldest_first(
    conn: asyncpg.Connection, settings: Settings, resolver: ActorResolver, library: LocalActor, fetch: Fetch
) -> None:
    await publish_at(conn, resolver, settings, library, "Late on the 5th", utc(2024, 5, 5, 23, 59, 59))
    await publish_at(conn, resolver, settings, library, "Afternoon of the 6th", utc(2024, 5, 6, 15, 0))
    morning = await publish_at(conn, resolver, settings, library, "Morning of the 6th", utc(2024, 5, 6, 0, 0))
    await publish_at(conn, resolver, settings, library, "Unlisted on the 6th", utc(2024, 5, 6, 9), visibility="unlisted")
    await publish_at(conn, resolver, settings, library, "Private on the 6th", utc(2024, 5, 6, 9), visibility="private")
    gone = await publish_at(conn, resolver, settings, library, "Deleted on the 6th", utc(2024, 5, 6, 10))
    await delete_post(conn, settings, gone)
    await citizen_reply(conn, morning, "<p>A citizen on the 6th</p>", received=utc(2024, 5, 6, 11))
    await publish_at(conn, resolver, settings, library, "On the 9th", utc(2024, 5, 9, 12))

    page = await fetch("/@library/2024-05-06")
    assert page.status == 200
    text = page.text
    assert "<h1>Monday 6 May 2024</h1>" in text and "2 updates from City Library" in text
    assert text.index("Morning of the 6th") < text.index("Afternoon of the 6th")
    for absent in ("Late on the 5th", "Unlisted on the 6th", "Private on the 6th", "Deleted on the 6th",
                   "A citizen on the 6th", "On the 9th"):
        assert absent not in text
    assert '<a href="/@library/2024-05-05" rel="prev">' in text and '<a href="/@library/2024-05-09" rel="next">' in text
    assert '<link rel="canonical" href="https://city.example/@library/2024-05-06">' in text
    assert 'content="noindex"' not in text

    quiet = await fetch("/@library/2024-05-07")
    assert quiet.status == 200 and "No public updates on this day." in quiet.text
    assert '<meta name="robots" content="noindex">' in quiet.text
    assert 'href="/@library/2024-05-06" rel="prev"' in quiet.text and 'href="/@library/2024-05-09" rel="next"' in quiet.text
    first = await fetch("/@library/2024-05-05")
    assert 'rel="prev"' not in first.text and "Late on the 5th" in first.text


async def test_malformed_and_future_days_are_not_found(
    conn: asyncpg.Connection, settings: Settings, vault: KeyVault, library: LocalActor, fetch: Fetch
) -> None:
    today = datetime.now(timezone.utc).date()
    assert (await fetch(f"/@library/{today.isoformat()}")).status == 200
    for day in ("2024-13-01", "2024-02-30", "2024-5-06", "20240506", "2024-05-06x", "0000-01-01", "abcd-ef-gh",
                "%E2%91%A0%E2%91%A1%E2%91%A2%E2%91%A3-05-06", (today + timedelta(days=1)).isoformat(), "9999-12-31"):
        page = await fetch(f"/@library/{day}")
        assert page.status == 404 and page.headers["Content-Type"].startswith("text/html"), day
    assert (await fetch("/@nobody/2024-05-06")).status == 404
    await make_department(conn, settings, vault, "closed")
    await delete_department(conn, "closed")
    assert (await fetch("/@closed/2024-05-06")).status == 410
    assert (await fetch("/@closed/archive")).status == 410
    assert parse_day("2024-02-29") is not None and parse_day("2023-02-29") is None


async def test_the_calendar_links_every_day_with_updates(
    conn: asyncpg.Connection, settings: Settings, resolver: ActorResolver, library: LocalActor, fetch: Fetch
) -> None:
    for when in (utc(2023, 12, 31, 8), utc(2024, 5, 6, 8), utc(2024, 5, 6, 9), utc(2024, 5, 31, 23)):
        await publish_at(conn, resolver, settings, library, f"Update at {when.isoformat()}", when)
    await publish_at(conn, resolver, settings, library, "Private", utc(2024, 4, 1, 8), visibility="private")

    page = await fetch("/@library/archive")
    assert page.status == 200
    text = page.text
    assert "4 public updates in all" in text
    assert text.index('<h2 id="year-2024">2024</h2>') < text.index("May 2024") < text.index('<h2 id="year-2023">2023</h2>')
    assert "<caption>May 2024 <span class=\"muted\">(3 updates)</span></caption>" in text
    assert '<a href="/@library/2024-05-06" aria-label="6 May 2024: 2 updates">6</a>' in text
    assert '<a href="/@library/2024-05-31" aria-label="31 May 2024: 1 update">31</a>' in text
    assert '<a href="/@library/2023-12-31"' in text
    assert "April 2024" not in text and '<td class="quiet">7</td>' in text
    assert '<th scope="col"><abbr title="Monday">Mo</abbr></th>' in text
    assert (await fetch("/@library")).text.count('href="/@library/archive"') == 1


def test_months_lay_out_weeks_from_monday() -> None:
    laid_out = months([DayCount(utc(2024, 5, 6).date(), 2), DayCount(utc(2024, 5, 1).date(), 1)])
    assert len(laid_out) == 1 and laid_out[0].name == "May 2024" and laid_out[0].updates == 3
    first_week = laid_out[0].weeks[0]
    assert first_week[:2] == [None, None] and first_week[2] == DayCount(utc(2024, 5, 1).date(), 1)
    assert laid_out[0].weeks[1][0] == DayCount(utc(2024, 5, 6).date(), 2)
