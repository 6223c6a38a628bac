"""The organisation's front page, a department's page and a post's page with its thread."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import groupby

import asyncpg
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import Response

from actors.follow_queries import count_followers
from actors.queries import Actor, local_actor_by_username
from actors.urls import department_urls
from fedi.templating import render_page
from outbox.queries import LISTED
from web import queries, transparency
from web.content import Attachment, attachments, duration, me_links, post_html, post_title, profile_fields
from web.queries import DirectoryEntry, Entry
from web.site import Site, request_site

PAGE_SIZE = 20
MAX_SEARCH = 100
OTHER_AREA = "Other departments"


@dataclass(frozen=True)
class Area:
    """Departments of one area, for the front page."""

    name: str
    departments: list[DirectoryEntry]


@dataclass(frozen=True)
class ShownPost:
    """A post as a page shows it: sanitized HTML, its attachments, and in a thread the replies under it."""

    entry: Entry
    html: Markup
    attachments: list[Attachment]
    children: tuple[ShownPost, ...] = ()


def message_page(site: Site, status: int, heading: str, text: str) -> Response:
    """A short page saying what went wrong (not found, deleted, bad request)."""
    return render_page("web_message.html", status, site=site, heading=heading, text=text)


def department_missing(site: Site, username: str, department: Actor | None) -> Response:
    """The 410 page of a deleted department, or the 404 page of an unknown one."""
    if department is not None:
        return message_page(site, 410, "Department deleted", f"{site.handle(username)} has been deleted.")
    return message_page(site, 404, "No such department", f"There is no {site.handle(username)} here.")


def negotiation_headers(uri: str) -> dict[str, str]:
    """Headers of a page whose URL also serves an ActivityPub document."""
    return {"Vary": "Accept", "Link": f'<{uri}>; rel="alternate"; type="application/activity+json"'}


def shown(entry: Entry, site: Site, children: tuple[ShownPost, ...] = ()) -> ShownPost:
    """One post ready for a template."""
    return ShownPost(entry, post_html(entry), attachments(entry, site.base_url), children)


async def front_page(request: Request) -> Response:
    """``/``: every department, grouped by area, filtered by ``?q=``."""
    site = request_site(request)
    search = " ".join(request.query_params.get("q", "").split())[:MAX_SEARCH]
    async with request.state.pool.acquire() as conn:
        found = await queries.directory(conn, search)
    areas = [Area(name or OTHER_AREA, list(group)) for name, group in groupby(found, key=lambda d: d.area)]
    return render_page("web_index.html", site=site, search=search, areas=areas, found=len(found))


def _max_id(request: Request) -> int | None:
    value = request.query_params.get("max_id", "")
    if value == "":
        return None
    if not value.isdigit():
        raise ValueError("max_id must be a post number")
    return int(value)


async def department_page(request: Request) -> Response:
    """A department's page for people: profile, follow form, updates newest first (``?max_id=`` pages)."""
    return await render_department(request, request.path_params["username"])


async def render_department(
    request: Request, username: str, visitor_handle: str = "", error: str = "", status_code: int = 200
) -> Response:
    """The department page, with the follow form showing ``visitor_handle`` and ``error`` when a follow failed."""
    site = request_site(request)
    try:
        max_id = _max_id(request)
    except ValueError as exc:
        return message_page(site, 400, "Bad request", str(exc))
    async with request.state.pool.acquire() as conn:
        department = await local_actor_by_username(conn, username, include_deleted=True)
        if department is None or department.deleted_at is not None:
            return department_missing(site, username, department)
        found = await queries.updates(conn, department.id, PAGE_SIZE + 1, max_id)
        pinned = await queries.pinned_updates(conn, department.id) if max_id is None else []
        followers = await count_followers(conn, department.id)
        total = await queries.count_updates(conn, department.id)
        answering = await transparency.department_summary(conn, department.id)
    entries = found[:PAGE_SIZE]
    return render_page(
        "department.html", status_code, negotiation_headers(department.uri),
        site=site, department=department, urls=department_urls(site.base_url, department.username),
        domain=site.domain, fields=profile_fields(department.fields), me_links=me_links(department.fields),
        posts=[shown(e, site) for e in entries], pinned=[shown(e, site) for e in pinned],
        next_max_id=entries[-1].id if len(found) > PAGE_SIZE else None, paged=max_id is not None,
        followers=followers, total=total, answering=answering, duration=duration,
        visitor_handle=visitor_handle, error=error,
    )


def build_thread(root_id: int, replies: list[Entry], site: Site) -> list[ShownPost]:
    """Nest the replies under the post ``root_id`` (each list keeps the replies' order)."""
    under: dict[int | None, list[Entry]] = {}
    for entry in replies:
        under.setdefault(entry.in_reply_to_id, []).append(entry)

    def node(entry: Entry) -> ShownPost:
        return shown(entry, site, tuple(node(child) for child in under.get(entry.id, [])))

    return [node(entry) for entry in under.get(root_id, [])]


async def post_page(request: Request) -> Response:
    """A post's page for people: the post, what it replies to, and its public replies as a thread."""
    return await render_post(request, request.path_params["username"], request.path_params["post_id"])


async def _post(conn: asyncpg.Connection, site: Site, username: str, post_id: int) -> tuple[Actor, Entry] | Response:
    """The department and its public or unlisted post, or the page saying why there is none."""
    department = await local_actor_by_username(conn, username, include_deleted=True)
    if department is None or department.deleted_at is not None:
        return department_missing(site, username, department)
    entry = await queries.local_entry(conn, department.id, post_id)
    if entry is None or entry.visibility not in LISTED:
        return message_page(site, 404, "Not found", f"There is no post {post_id} of {site.handle(username)}.")
    if entry.deleted_at is not None:
        return message_page(site, 410, "Post deleted", "This post has been deleted.")
    return department, entry


async def render_post(
    request: Request, username: str, post_id: int, visitor_handle: str = "", error: str = "", status_code: int = 200
) -> Response:
    """The post page, with the reply form showing ``visitor_handle`` and ``error`` when an interaction failed."""
    site = request_site(request)
    async with request.state.pool.acquire() as conn:
        found = await _post(conn, site, username, post_id)
        if isinstance(found, Response):
            return found
        department, entry = found
        above = await queries.ancestors(conn, entry.id, department.id)
        replies = await queries.thread(conn, entry.id, department.id)
    return render_page(
        "post.html", status_code, negotiation_headers(entry.uri),
        site=site, department=department, post=entry, content=post_html(entry), title=post_title(entry, 60),
        shown=shown(entry, site), handle=site.handle(department.username),
        urls=department_urls(site.base_url, department.username),
        ancestors=[shown(e, site) for e in above], thread=build_thread(entry.id, replies, site),
        reply_count=len(replies), visitor_handle=visitor_handle, error=error,
    )
