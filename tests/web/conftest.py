"""Web fixtures: a running server with departments, posts and citizens' replies stored as the inbox stores them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import aiohttp
import asyncpg
import pytest
from multidict import CIMultiDictProxy

from actors.queries import Actor, LocalActor
from actors.remote import ActorResolver
from fedi.settings import Settings
from inbox.queries import RemotePost, insert_remote_post
from keys.keypairs import KeyVault
from tests.factories import citizen, make_department
from tests.servers import RunningInstance

PUBLIC = "https://www.w3.org/ns/activitystreams#Public"
HTML = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
AP = {"Accept": "application/activity+json"}
BASE = "https://city.example"


@dataclass(frozen=True)
class Page:
    """A response as a test reads it."""

    status: int
    headers: CIMultiDictProxy[str]
    text: str


Fetch = Callable[..., Awaitable[Page]]


@pytest.fixture
def resolver(instance: RunningInstance) -> ActorResolver:
    """The running server's actor resolver (publishing resolves mentions with it)."""
    return instance.services.resolver


@pytest.fixture
async def library(conn: asyncpg.Connection, settings: Settings, vault: KeyVault) -> LocalActor:
    """A department with an area, a summary and profile fields."""
    return await make_department(
        conn, settings, vault, "library", display_name="City Library", area="Culture",
        summary="Books, reading rooms and events.",
        fields=[{"name": "Website", "value": "https://library.city.example/"}, {"name": "Hours", "value": "Mon-Fri 9-17"}],
    )


@pytest.fixture
def fetch(http: aiohttp.ClientSession, server: str) -> Fetch:
    """GET a path (or one of our absolute URLs) from the running server, as a browser by default."""

    async def get(path: str, headers: dict[str, str] | None = None, redirects: bool = True) -> Page:
        url = server + path.removeprefix(BASE)
        async with http.get(url, headers=HTML if headers is None else headers, allow_redirects=redirects) as response:
            return Page(response.status, response.headers, await response.text())

    return get


async def citizen_reply(
    conn: asyncpg.Connection, parent_uri: str, content: str, *, username: str = "alice", host: str = "peer.test",
    visibility: str = "public", received: datetime | None = None, summary: str = "",
    attachments: list[dict[str, Any]] | None = None,
) -> int:
    """Store a remote citizen's reply to ``parent_uri`` as the inbox would (content as given); return its id."""
    author: Actor = await citizen(conn, username, host)
    parent_id = await conn.fetchval("SELECT id FROM posts WHERE uri = $1", parent_uri)
    number = await conn.fetchval("SELECT count(*) + 1 FROM posts WHERE NOT local")
    uri = f"https://{host}/users/{username}/statuses/{number}"
    post = RemotePost(
        uri=uri, object_type="Note", url=f"https://{host}/@{username}/{number}", in_reply_to_uri=parent_uri,
        visibility=visibility, content_html=content, summary=summary, sensitive=bool(summary), language="en",
        to_uris=[PUBLIC] if visibility == "public" else [], cc_uris=[], tags=[], attachments=attachments or [],
        published_at=received or datetime.now(timezone.utc), edited_at=None,
    )
    stored = await insert_remote_post(conn, post, author.id, parent_id)
    assert stored is not None
    if received is not None:
        await conn.execute("UPDATE posts SET created_at = $2 WHERE id = $1", stored.id, received)
    return stored.id


async def set_published(conn: asyncpg.Connection, post_id: int, when: datetime) -> None:
    """Move a post to another publication time (and its row's creation with it)."""
    await conn.execute("UPDATE posts SET published_at = $2, created_at = $2 WHERE id = $1", post_id, when)
