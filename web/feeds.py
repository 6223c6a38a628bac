"""Atom 1.0 (RFC 4287) and RSS 2.0 feeds of a department's updates and of the whole organisation's.

Entries are identified by their post's id (Atom ``id``, RSS ``guid``), which never changes; the
HTML content is the sanitized post, escaped as XML text by the serializer. Each feed carries an
ETag and a Last-Modified that a post, an edit, a deletion or a profile change moves forward, and
answers conditional GETs with 304.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import format_datetime

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from actors.queries import local_actor_by_username
from fedi import __version__
from web import queries
from web.conditional import conditional_response
from web.content import feed_html, post_title
from web.queries import Entry
from web.site import Site, request_site

FEED_SIZE = 20
ATOM = "atom"
RSS = "rss"
MEDIA_TYPES = {ATOM: "application/atom+xml; charset=utf-8", RSS: "application/rss+xml; charset=utf-8"}
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


@dataclass(frozen=True)
class Feed:
    """What a feed says about itself; ``username`` is None for the organisation's feed."""

    title: str
    description: str
    page_url: str
    self_url: str
    username: str | None
    updated: datetime
    entries: list[Entry]


def _text(value: str) -> str:
    """Text XML 1.0 can carry (control characters dropped)."""
    return _NOT_XML.sub("", value)


def _add(parent: ET.Element, tag: str, text: str | None = None, **attributes: str) -> ET.Element:
    element = ET.SubElement(parent, tag, {name: _text(value) for name, value in attributes.items()})
    if text is not None:
        element.text = _text(text)
    return element


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def _rfc822(moment: datetime) -> str:
    return format_datetime(moment.astimezone(timezone.utc), usegmt=True)


def _author_name(entry: Entry) -> str:
    return entry.author_name or entry.author_username


def render_atom(feed: Feed, site: Site) -> bytes:
    """The feed as an Atom document."""
    root = ET.Element("feed", {"xmlns": "http://www.w3.org/2005/Atom"})
    _add(root, "id", feed.page_url)
    _add(root, "title", feed.title)
    _add(root, "subtitle", feed.description)
    _add(root, "updated", _rfc3339(feed.updated))
    _add(root, "link", rel="alternate", type="text/html", href=feed.page_url)
    _add(root, "link", rel="self", type="application/atom+xml", href=feed.self_url)
    _add(root, "generator", "fedi", version=__version__)
    if feed.username is not None:
        author = _add(root, "author")
        _add(author, "name", feed.title)
        _add(author, "uri", feed.page_url)
    for entry in feed.entries:
        item = _add(root, "entry")
        _add(item, "id", entry.uri)
        _add(item, "title", post_title(entry))
        _add(item, "link", rel="alternate", type="text/html", href=entry.url or entry.uri)
        _add(item, "published", _rfc3339(entry.published_at))
        _add(item, "updated", _rfc3339(entry.updated_at))
        if feed.username is None:
            author = _add(item, "author")
            _add(author, "name", _author_name(entry))
            _add(author, "uri", site.profile(entry.author_username))
        _add(item, "content", feed_html(entry), type="html")
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def render_rss(feed: Feed, site: Site) -> bytes:
    """The feed as an RSS 2.0 document."""
    root = ET.Element("rss", {"version": "2.0", "xmlns:atom": "http://www.w3.org/2005/Atom",
                              "xmlns:dc": "http://purl.org/dc/elements/1.1/"})
    channel = _add(root, "channel")
    _add(channel, "title", feed.title)
    _add(channel, "link", feed.page_url)
    _add(channel, "description", feed.description)
    _add(channel, "lastBuildDate", _rfc822(feed.updated))
    _add(channel, "generator", f"fedi {__version__}")
    _add(channel, "atom:link", rel="self", type="application/rss+xml", href=feed.self_url)
    for entry in feed.entries:
        item = _add(channel, "item")
        _add(item, "title", post_title(entry))
        _add(item, "link", entry.url or entry.uri)
        _add(item, "guid", entry.uri, isPermaLink="false")
        _add(item, "pubDate", _rfc822(entry.published_at))
        _add(item, "dc:creator", _author_name(entry))
        _add(item, "description", feed_html(entry))
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


RENDERERS: dict[str, Callable[[Feed, Site], bytes]] = {ATOM: render_atom, RSS: render_rss}


async def _department_feed(request: Request, site: Site, kind: str) -> Feed | Response:
    username = request.path_params["username"]
    async with request.state.pool.acquire() as conn:
        department = await local_actor_by_username(conn, username, include_deleted=True)
        if department is None:
            return PlainTextResponse(f"There is no department named {username}.", 404)
        if department.deleted_at is not None:
            return PlainTextResponse(f"The department {username} has been deleted.", 410)
        entries = await queries.updates(conn, department.id, FEED_SIZE)
        updated = await queries.last_change(conn, department.id)
    name = department.display_name or department.username
    return Feed(
        title=name, description=department.summary or f"Updates from {name} ({site.handle(department.username)})",
        page_url=site.profile(department.username), self_url=site.feed(department.username, kind),
        username=department.username, updated=updated or department.updated_at, entries=entries,
    )


async def _organisation_feed(request: Request, site: Site, kind: str) -> Feed:
    async with request.state.pool.acquire() as conn:
        entries = await queries.organisation_updates(conn, FEED_SIZE)
        updated = await queries.last_change(conn)
    return Feed(
        title=site.name, description=f"Updates from the departments of {site.name}", page_url=site.url("/"),
        self_url=site.feed(None, kind), username=None, updated=updated or datetime.now(timezone.utc), entries=entries,
    )


def feed_handler(kind: str, organisation: bool) -> Callable[[Request], Awaitable[Response]]:
    """A handler serving the ``kind`` feed of the department in the path, or of the organisation."""

    async def handler(request: Request) -> Response:
        site = request_site(request)
        feed = await (_organisation_feed(request, site, kind) if organisation else _department_feed(request, site, kind))
        if isinstance(feed, Response):
            return feed
        return conditional_response(request, RENDERERS[kind](feed, site), MEDIA_TYPES[kind], feed.updated)

    return handler
