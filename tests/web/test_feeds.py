"""Atom and RSS feeds of a department and of the organisation, parsed by feedparser; conditional GETs."""

from __future__ import annotations

import calendar
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from typing import Any

import asyncpg
import feedparser

from actors.departments import delete_department
from actors.queries import LocalActor
from actors.remote import ActorResolver
from fedi.settings import Settings
from keys.keypairs import KeyVault
from outbox.posts import delete_post, edit_post, publish_post
from tests.factories import make_department
from tests.web.conftest import Fetch, citizen_reply, set_published

NOW = datetime.now(timezone.utc).replace(microsecond=0)


def parse(text: str) -> Any:
    """The feed as feedparser reads it; it must be well-formed."""
    feed = feedparser.parse(text)
    assert not feed.bozo, feed.get("bozo_exception")
    return feed


def moment(parsed: Any) -> datetime:
    """A feedparser date (a UTC struct_time) as an aware datetime."""
    return datetime.fromtimestamp(calendar.timegm(parsed), timezone.utc)


async def test_department_atom_feed_has_the_public_updates_newest_first(
    conn: asyncpg.Connection, settings: Settings, resolver: ActorResolver, library: LocalActor, fetch: Fetch
) -> None:
    old = await publish_post(conn, resolver, settings, library, "Closed on Monday & Tuesday <for repairs>")
    await set_published(conn, old.id, NOW - timedelta(days=3))
    warned = await publish_post(conn, resolver, settings, library, "The roof leaks.", summary="Building works")
    await set_published(conn, warned.id, NOW - timedelta(days=2))
    latest = await publish_post(conn, resolver, settings, library, "Story time at 10, see https://library.city.example/kids")
    await set_published(conn, latest.id, NOW - timedelta(days=1))
    await edit_post(conn, resolver, settings, old.uri, "Closed on Monday & Tuesday <for repairs> (updated)")
    for visibility in ("unlisted", "private", "direct"):
        await publish_post(conn, resolver, settings, library, f"A {visibility} post", visibility=visibility)
    question = await citizen_reply(conn, latest.uri, "<p>A citizen asks</p>")
    question_uri = await conn.fetchval("SELECT uri FROM posts WHERE id = $1", question)
    await publish_post(conn, resolver, settings, library, "An answer to a citizen", in_reply_to=question_uri)

    response = await fetch("/@library.atom")
    assert response.status == 200 and response.headers["Content-Type"] == "application/atom+xml; charset=utf-8"
    feed = parse(response.text)
    assert feed.version == "atom10"
    assert feed.feed.title == "City Library" and feed.feed.subtitle == "Books, reading rooms and events."
    assert feed.feed.link == "https://city.example/@library" and feed.feed.id == "https://city.example/@library"
    assert {"rel": "self", "type": "application/atom+xml", "href": "https://city.example/@library.atom"} in feed.feed.links
    assert [e.id for e in feed.entries] == [latest.uri, warned.uri, old.uri]
    assert [e.link for e in feed.entries] == [latest.url, warned.url, old.url]
    assert feed.entries[1].title == "Building works"
    assert feed.entries[0].title == "Story time at 10, see https://library.city.example/kids"
    assert moment(feed.entries[0].published_parsed) == NOW - timedelta(days=1)
    assert moment(feed.entries[2].published_parsed) == NOW - timedelta(days=3)
    assert moment(feed.entries[2].updated_parsed) > NOW - timedelta(minutes=5)  # the edit
    assert moment(feed.feed.updated_parsed) >= moment(feed.entries[2].updated_parsed)
    content = feed.entries[2].content[0]
    assert content.type == "text/html"
    assert "Closed on Monday &amp; Tuesday &lt;for repairs&gt; (updated)" in content.value
    assert feed.entries[2].title == "Closed on Monday & Tuesday <for repairs> (updated)"
    assert '<a href="https://library.city.example/kids"' in feed.entries[0].content[0].value
    assert "A citizen asks" not in response.text and "An answer" not in response.text and " post<" not in response.text
    assert "&lt;p&gt;Story time" in response.text  # the HTML travels escaped in the XML


async def test_department_rss_feed(
    conn: asyncpg.Connection, settings: Settings, resolver: ActorResolver, library: LocalActor, fetch: Fetch
) -> None:
    first = await publish_post(conn, resolver, settings, library, "First <update>")
    await set_published(conn, first.id, datetime(2024, 5, 6, 8, 30, tzinfo=timezone.utc))
    second = await publish_post(conn, resolver, settings, library, "Second update")

    response = await fetch("/@library.rss")
    assert response.headers["Content-Type"] == "application/rss+xml; charset=utf-8"
    feed = parse(response.text)
    assert feed.version == "rss20" and feed.feed.title == "City Library" and feed.feed.link == "https://city.example/@library"
    assert [e.id for e in feed.entries] == [second.uri, first.uri] and [e.link for e in feed.entries] == [second.url, first.url]
    assert "<pubDate>Mon, 06 May 2024 08:30:00 GMT</pubDate>" in response.text
    assert moment(feed.entries[1].published_parsed) == datetime(2024, 5, 6, 8, 30, tzinfo=timezone.utc)
    assert feed.entries[1].title == "First <update>" and "First &lt;update&gt;" in feed.entries[1].summary
    assert '<atom:link rel="self" type="application/rss+xml" href="https://city.example/@library.rss"' in response.text


async def test_organisation_feeds_cover_every_live_department(
    conn: asyncpg.Connection, settings: Settings, vault: KeyVault, resolver: ActorResolver, library: LocalActor,
    fetch: Fetch,
) -> None:
    museum = await make_department(conn, settings, vault, "museum", display_name="City <Museum>")
    closed = await make_department(conn, settings, vault, "closed", display_name="Closed office")
    a = await publish_post(conn, resolver, settings, library, "From the library")
    b = await publish_post(conn, resolver, settings, museum, "From the museum")
    await publish_post(conn, resolver, settings, closed, "From a closed office")
    gone = await publish_post(conn, resolver, settings, museum, "Withdrawn")
    await delete_post(conn, settings, gone.uri)
    await delete_department(conn, "closed")

    atom = parse((await fetch("/feed.atom")).text)
    assert atom.feed.title == "city.example" and atom.feed.link == "https://city.example/"
    assert [(e.id, e.author) for e in atom.entries] == [(b.uri, "City <Museum>"), (a.uri, "City Library")]
    assert atom.entries[0].author_detail.href == "https://city.example/@museum"
    rss = parse((await fetch("/feed.rss")).text)
    assert [e.id for e in rss.entries] == [b.uri, a.uri] and rss.entries[0].author == "City <Museum>"
    front = (await fetch("/")).text
    assert '<link rel="alternate" type="application/atom+xml" title="city.example: all departments (Atom)" href="https://city.example/feed.atom">' in front
    assert '<link rel="alternate" type="application/rss+xml"' in front


async def test_feeds_answer_conditional_gets_with_304(
    conn: asyncpg.Connection, settings: Settings, resolver: ActorResolver, library: LocalActor, fetch: Fetch
) -> None:
    post = await publish_post(conn, resolver, settings, library, "Opening hours")
    await set_published(conn, post.id, NOW - timedelta(hours=2))
    for path in ("/@library.atom", "/@library.rss", "/feed.atom", "/feed.rss"):
        first = await fetch(path)
        tag, modified = first.headers["ETag"], first.headers["Last-Modified"]
        assert tag.startswith('"') and modified.endswith(" GMT")
        assert (await fetch(path, {"If-None-Match": tag})).status == 304
        assert (await fetch(path, {"If-None-Match": f'"other", W/{tag}'})).status == 304
        assert (await fetch(path, {"If-None-Match": '"other"'})).status == 200
        assert (await fetch(path, {"If-Modified-Since": modified})).status == 304
        later = format_datetime(NOW + timedelta(hours=1), usegmt=True)
        assert (await fetch(path, {"If-Modified-Since": later})).status == 304
        earlier = format_datetime(NOW - timedelta(days=1), usegmt=True)
        assert (await fetch(path, {"If-Modified-Since": earlier})).status == 200
        assert (await fetch(path, {"If-Modified-Since": "not a date"})).status == 200
        # If-None-Match wins over If-Modified-Since
        assert (await fetch(path, {"If-None-Match": '"other"', "If-Modified-Since": later})).status == 200
        not_modified = await fetch(path, {"If-None-Match": tag})
        assert not_modified.text == "" and not_modified.headers["ETag"] == tag

    before = await fetch("/@library.atom")
    newer = await publish_post(conn, resolver, settings, library, "A new notice")
    changed = await fetch("/@library.atom", {"If-None-Match": before.headers["ETag"]})
    assert changed.status == 200 and newer.uri in changed.text and changed.headers["ETag"] != before.headers["ETag"]
    # Deleting the newest post moves Last-Modified forward, not back to the previous post.
    await set_published(conn, newer.id, NOW - timedelta(hours=1))
    await conn.execute("UPDATE actors SET updated_at = $2 WHERE id = $1", library.id, NOW - timedelta(hours=3))
    changed = await fetch("/@library.atom")
    assert changed.headers["Last-Modified"] == format_datetime(NOW - timedelta(hours=1), usegmt=True)
    await delete_post(conn, settings, newer.uri)
    after = await fetch("/@library.atom", {"If-Modified-Since": changed.headers["Last-Modified"]})
    assert after.status == 200 and newer.uri not in after.text


async def test_feed_errors_and_characters_xml_cannot_carry(
    conn: asyncpg.Connection, settings: Settings, vault: KeyVault, resolver: ActorResolver, library: LocalActor,
    fetch: Fetch,
) -> None:
    post = await publish_post(conn, resolver, settings, library, "Plain text")
    await conn.execute("UPDATE posts SET content_html = $2 WHERE id = $1", post.id, "<p>Bell\x07 and \x0bvertical tab</p>")
    for path in ("/@library.atom", "/@library.rss"):
        feed = parse((await fetch(path)).text)
        assert "Bell and vertical tab" in feed.entries[0].title
    await make_department(conn, settings, vault, "closed")
    await delete_department(conn, "closed")
    assert (await fetch("/@nobody.atom")).status == 404
    assert (await fetch("/@closed.rss")).status == 410
