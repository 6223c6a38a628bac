"""The transparency report: figures computed in SQL from real posts, replies and follows, as HTML and JSON."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import asyncpg
import pytest

from actors.departments import delete_department
from actors.follow_queries import accept_follow, delete_follow, upsert_follow
from actors.queries import LocalActor
from actors.remote import ActorResolver
from fedi.settings import Settings
from keys.keypairs import KeyVault
from outbox.posts import delete_post, publish_post
from tests.factories import citizen, make_department
from tests.web.conftest import AP, Fetch, citizen_reply, set_published
from web.charts import nice_ceiling
from web.content import duration
from web.report_cache import TimedCache
from web.transparency import window

HOUR = 3600.0


async def publish_at(
    conn: asyncpg.Connection, resolver: ActorResolver, settings: Settings, department: LocalActor, text: str,
    when: datetime, **options: str,
) -> str:
    """Publish a post dated ``when``; return its URI."""
    post = await publish_post(conn, resolver, settings, department, text, **options)
    await set_published(conn, post.id, when)
    return post.uri


async def reply_uri(conn: asyncpg.Connection, reply_id: int) -> str:
    return str(await conn.fetchval("SELECT uri FROM posts WHERE id = $1", reply_id))


async def follow_at(conn: asyncpg.Connection, department: LocalActor, name: str, when: datetime) -> int:
    """An accepted follow of ``department`` by a new citizen, logged as made at ``when``; return its id."""
    follower = await citizen(conn, name, "peer.test")
    follow = await upsert_follow(conn, follower.id, department.id, f"https://peer.test/follows/{name}", "accepted")
    await conn.execute("UPDATE follow_events SET occurred_at = $1 WHERE id = (SELECT max(id) FROM follow_events)", when)
    return follow.id


@pytest.fixture
async def activity(
    conn: asyncpg.Connection, settings: Settings, vault: KeyVault, resolver: ActorResolver, library: LocalActor
) -> datetime:
    """A month of the library's and the museum's work; returns the "now" it was laid out from."""
    now = datetime.now(timezone.utc)
    say = lambda text, when, **o: publish_at(conn, resolver, settings, library, text, when, **o)  # noqa: E731
    u1 = await say("Update two days ago", now - timedelta(days=2))
    await say("Thread continued", now - timedelta(days=2) + timedelta(hours=1), in_reply_to=u1)
    await say("Update five days ago", now - timedelta(days=5))
    await say("Update ten days ago", now - timedelta(days=10))
    await say("Update a hundred days ago", now - timedelta(days=100))
    await say("Update four hundred days ago", now - timedelta(days=400))
    await say("Unlisted", now - timedelta(days=2), visibility="unlisted")
    await say("Private", now - timedelta(days=2), visibility="private")

    async def question(received: datetime, waits: tuple[float, ...] = (), **options: object) -> int:
        reply = await citizen_reply(conn, u1, "<p>A question</p>", received=received, **options)  # type: ignore[arg-type]
        for wait in waits:
            await say("An answer", received + timedelta(seconds=wait), in_reply_to=await reply_uri(conn, reply))
        return reply

    three, four = now - timedelta(days=3), now - timedelta(days=4)
    await question(three, (1 * HOUR,), username="r1")
    await question(three, (3 * HOUR, 5 * HOUR), username="r2")
    await question(four, (10 * HOUR,), username="r3")
    await question(four, username="r4")
    await question(four, (2 * HOUR,), username="r5", visibility="direct")
    deleted = await question(four, username="r6")
    await conn.execute("UPDATE posts SET deleted_at = now() WHERE id = $1", deleted)
    blocked = await question(four, username="r7")
    await conn.execute(
        "INSERT INTO blocks (uri, blocker_id, blocked_id) SELECT 'https://city.example/blocks/7', $1, author_id FROM posts WHERE id = $2",
        library.id, blocked,
    )
    await question(now - timedelta(days=20), (24 * HOUR,), username="r8")
    withdrawn = await question(three, username="r9")
    answer = await publish_post(conn, resolver, settings, library, "Withdrawn answer", in_reply_to=await reply_uri(conn, withdrawn))
    await delete_post(conn, settings, answer.uri)

    await follow_at(conn, library, "f1", now - timedelta(days=50))
    await follow_at(conn, library, "f2", three)
    leaving = await follow_at(conn, library, "f3", three)
    await delete_follow(conn, leaving)

    museum = await make_department(conn, settings, vault, "museum", display_name="Museum")
    exhibit = await publish_at(conn, resolver, settings, museum, "New exhibition", now - timedelta(days=1))
    await citizen_reply(conn, exhibit, "<p>Is it open on Sunday?</p>", username="m1", received=now - timedelta(days=1))
    closed = await make_department(conn, settings, vault, "closed", display_name="Closed office")
    notice = await publish_at(conn, resolver, settings, closed, "Closing notice", now - timedelta(days=1))
    await citizen_reply(conn, notice, "<p>Why?</p>", username="c1", received=now - timedelta(days=1))
    await follow_at(conn, closed, "f4", now - timedelta(days=1))
    await delete_department(conn, "closed")
    return now


async def test_the_json_report_counts_updates_replies_answers_and_followers(activity: datetime, fetch: Fetch) -> None:
    response = await fetch("/transparency.json?days=7")
    assert response.status == 200 and response.headers["Content-Type"].startswith("application/json")
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    report = json.loads(response.text)
    assert report["organisation"] == "city.example" and report["department"] is None and report["time_zone"] == "UTC"
    assert set(report["periods"]) == {"7", "30", "365"}
    by_name = {d["username"]: d for d in report["departments"]}
    assert set(by_name) == {"library", "museum"}
    library = by_name["library"]["periods"]
    assert library["7"] == {
        "days": 7, "updates": 3, "updates_per_day": 0.43, "followers": 2, "followers_change": 1,
        "citizen_replies": 6, "answered": 4, "answered_share": 0.6667,
        "median_answer_seconds": 9000.0, "p90_answer_seconds": 28440.0,
    }
    assert library["30"] | {"median_answer_seconds": None, "p90_answer_seconds": None} == {
        "days": 30, "updates": 4, "updates_per_day": 0.13, "followers": 2, "followers_change": 1,
        "citizen_replies": 7, "answered": 5, "answered_share": 0.7143,
        "median_answer_seconds": None, "p90_answer_seconds": None,
    }
    assert (library["30"]["median_answer_seconds"], library["30"]["p90_answer_seconds"]) == (10800.0, 66240.0)
    assert (library["365"]["updates"], library["365"]["followers_change"]) == (5, 2)
    museum = by_name["museum"]["periods"]["7"]
    assert (museum["updates"], museum["citizen_replies"], museum["answered"], museum["answered_share"]) == (1, 1, 0, 0.0)
    assert museum["median_answer_seconds"] is None
    total = report["periods"]["7"]
    assert (total["updates"], total["citizen_replies"], total["answered"], total["followers"]) == (4, 7, 4, 2)
    assert total["median_answer_seconds"] == 9000.0

    series = report["series"]
    assert series["days"] == 7 and len(series["updates_per_day"]) == 7 and len(series["followers"]) == 7
    days = {d["date"]: d for d in series["updates_per_day"]}
    assert days[(activity - timedelta(days=2)).date().isoformat()]["updates"] == 2
    assert days[(activity - timedelta(days=1)).date().isoformat()]["updates"] == 1  # the museum's
    followers = {d["date"]: d["followers"] for d in series["followers"]}
    assert followers[(activity - timedelta(days=6)).date().isoformat()] == 1
    assert followers[(activity - timedelta(days=3)).date().isoformat()] == 3
    assert followers[activity.date().isoformat()] == 2
    assert sum(w["updates"] for w in series["weekly"]) == 4 and sum(w["answers"] for w in series["weekly"]) == 5
    first_week, last_week = window(7, activity.date()).weeks
    assert [series["weekly"][0]["week_start"], series["weekly"][-1]["week_start"]] == [first_week.isoformat(), last_week.isoformat()]


async def test_one_department_and_the_other_windows(activity: datetime, fetch: Fetch, conn: asyncpg.Connection) -> None:
    report = json.loads((await fetch("/transparency.json?department=library&days=30")).text)
    assert report["department"] == {"username": "library", "name": "City Library", "area": "Culture",
                                    "url": "https://city.example/@library"}
    assert report["departments"] == [] and report["periods"]["7"]["citizen_replies"] == 6
    assert len(report["series"]["updates_per_day"]) == 30
    assert sum(w["answers"] for w in report["series"]["weekly"]) == 6  # the answer to the 20-day-old reply too
    year = json.loads((await fetch("/transparency.json?days=365")).text)
    assert len(year["series"]["followers"]) == 365 and year["series"]["followers"][0]["followers"] == 0
    # The report is kept a few minutes: a new post shows on the department's page at once, in the report later.
    await conn.execute("UPDATE posts SET published_at = now() WHERE id = (SELECT max(id) FROM posts WHERE local)")
    again = json.loads((await fetch("/transparency.json?department=LIBRARY&days=30")).text)
    assert again["generated_at"] == report["generated_at"] and again == report
    for query, status in (("days=5", 400), ("days=abc", 400), ("department=nobody", 404), ("department=closed", 404)):
        failed = await fetch(f"/transparency.json?{query}")
        assert failed.status == status and "error" in json.loads(failed.text)


async def test_the_transparency_page_shows_the_figures_with_accessible_charts(activity: datetime, fetch: Fetch) -> None:
    page = await fetch("/transparency?days=7")
    assert page.status == 200
    text = page.text
    assert "<h1>Transparency: city.example</h1>" in text
    assert '<a href="/transparency?days=7" aria-current="page">Last 7 days</a>' in text
    assert '<svg class="chart" viewBox="0 0 600 240" role="img" aria-labelledby="weekly-title weekly-desc"' in text
    assert '<title id="weekly-title">Updates and answers per week, city.example</title>' in text
    assert '<desc id="weekly-desc">Bar chart of the weeks of' in text and "4 updates and 5 answers to citizens in all." in text
    assert '<title id="followers-title">Followers per day, city.example</title>' in text
    assert '<caption id="departments-caption">Each department over the last 7 days</caption>' in text
    row = text[text.index('<tr id="library">'):]
    row = row[: row.index("</tr>")]
    for cell in ("<td class=\"num\">3</td>", "<td class=\"num\">6</td>", "<td class=\"num\">67%</td>",
                 "<td class=\"num\">2 h 30 min</td>", "<td class=\"num\">7 h 54 min</td>", "2 <small>(+1)</small>"):
        assert cell in row, cell
    assert 'href="/transparency?days=7&amp;department=library"' in row
    assert "Closed office" not in text and '<tr id="museum">' in text

    one = await fetch("/transparency?department=library&days=365")
    assert one.status == 200 and "<h1>Transparency: City Library</h1>" in one.text and '<tr id="museum">' not in one.text
    assert 'href="/transparency?days=365&amp;department=library" aria-current="page"' in one.text
    assert (await fetch("/transparency?days=2")).status == 400
    assert (await fetch("/transparency?department=%3Cb%3Enobody")).status == 404
    department_page = (await fetch("/@library")).text
    assert "received 7 replies from citizens and answered 5 (71%), typically within 3 h" in department_page
    assert (await fetch("/transparency", AP)).headers["Content-Type"].startswith("text/html")


async def test_the_follow_log_counts_accepted_follows_of_departments_only(
    conn: asyncpg.Connection, library: LocalActor
) -> None:
    alice = await citizen(conn, "alice", "peer.test")
    pending = await upsert_follow(conn, alice.id, library.id, "https://peer.test/follows/1", "pending")
    assert await conn.fetchval("SELECT count(*) FROM follow_events") == 0
    await accept_follow(conn, pending.id)
    await upsert_follow(conn, alice.id, library.id, "https://peer.test/follows/2", "accepted")  # a repeated Follow
    await upsert_follow(conn, library.id, alice.id, "https://city.example/follows/3", "accepted")  # we follow them
    assert [r["delta"] for r in await conn.fetch("SELECT delta FROM follow_events WHERE followee_id = $1", library.id)] == [1]
    assert await conn.fetchval("SELECT count(*) FROM follow_events WHERE followee_id = $1", alice.id) == 0
    await delete_follow(conn, pending.id)
    assert await conn.fetchval("SELECT sum(delta) FROM follow_events WHERE followee_id = $1", library.id) == 0
    await upsert_follow(conn, alice.id, library.id, "https://peer.test/follows/4", "accepted")
    await conn.execute("DELETE FROM actors WHERE id = $1", alice.id)  # the citizen's account is gone: follows cascade
    assert await conn.fetchval("SELECT sum(delta) FROM follow_events WHERE followee_id = $1", library.id) == 0


def test_the_report_cache_forgets_after_its_time_and_when_full() -> None:
    cache: TimedCache[str] = TimedCache(seconds=60, size=2)
    cache.put("a", "first")
    cache.put("b", "second")
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == ("first", "second", None)
    cache.put("c", "third")
    assert (cache.get("a"), cache.get("c")) == (None, "third")
    stale: TimedCache[str] = TimedCache(seconds=0)
    stale.put("a", "gone")
    assert stale.get("a") is None and stale.entries == {}


def test_durations_and_chart_scales_read_well() -> None:
    assert [duration(s) for s in (None, 59, 600, 3600, 9000, 28440, 47 * 3600, 49 * 3600, 72 * 3600)] == [
        "–", "1 min", "10 min", "1 h", "2 h 30 min", "7 h 54 min", "47 h", "2 d 1 h", "3 d",
    ]
    assert [nice_ceiling(v) for v in (0, 1, 3, 7, 10, 11, 34, 260)] == [1, 1, 5, 10, 10, 20, 50, 500]
