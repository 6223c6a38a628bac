"""Collections and post URLs over real HTTP: paging, counts, featured, content negotiation, 404 and 410."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest

from actors.follow_queries import upsert_follow
from actors.queries import Actor
from actors.remote import ActorResolver
from fedi.settings import Settings
from keys.keypairs import KeyVault
from outbox import queries
from outbox.builders import render_note
from outbox.posts import delete_post, pin_post, publish_post
from tests.factories import make_department
from tests.factories import citizen
from tests.servers import RunningInstance

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "activitypub"
AP = {"Accept": "application/activity+json"}
LD = {"Accept": 'application/ld+json; profile="https://www.w3.org/ns/activitystreams"'}
HTML = {"Accept": "text/html,application/xhtml+xml"}
BASE = "https://city.example"


@pytest.fixture
def resolver(instance: RunningInstance) -> ActorResolver:
    return instance.services.resolver


@pytest.fixture
async def library(conn: asyncpg.Connection, settings: Settings, vault: KeyVault) -> Actor:
    return await make_department(conn, settings, vault, "library")


async def get(http: aiohttp.ClientSession, server: str, url: str, headers: dict[str, str] = AP) -> tuple[int, str, Any]:
    """Status, content type and body (JSON when it is JSON) of a GET of one of our ids."""
    async with http.get(url.replace(BASE, server), headers=headers) as response:
        text = await response.text()
        kind = response.headers.get("Content-Type", "")
        return response.status, kind, json.loads(text) if "json" in kind else text


async def test_outbox_pages_newest_first(
    http: aiohttp.ClientSession, server: str, conn: asyncpg.Connection, settings: Settings, resolver: ActorResolver, library: Actor
) -> None:
    posts = [
        await publish_post(conn, resolver, settings, library, f"Notice {n}", visibility="unlisted" if n % 5 == 0 else "public")
        for n in range(23)
    ]
    await publish_post(conn, resolver, settings, library, "followers only", visibility="private")
    await publish_post(conn, resolver, settings, library, "direct", visibility="direct")
    outbox = f"{BASE}/users/library/outbox"
    status, kind, head = await get(http, server, outbox)
    assert status == 200 and kind.startswith("application/activity+json")
    assert head == {
        "@context": "https://www.w3.org/ns/activitystreams", "id": outbox, "type": "OrderedCollection",
        "totalItems": 23, "first": f"{outbox}?page=true", "last": f"{outbox}?page=true&min_id=0",
    }
    _, _, first = await get(http, server, head["first"])
    assert (first["type"], first["partOf"], first["id"]) == ("OrderedCollectionPage", outbox, head["first"])
    newest = [p.uri for p in reversed(posts)]
    assert [item["object"]["id"] for item in first["orderedItems"]] == newest[:20]
    assert {item["type"] for item in first["orderedItems"]} == {"Create"} and "prev" not in first
    _, _, second = await get(http, server, first["next"])
    assert [item["object"]["id"] for item in second["orderedItems"]] == newest[20:] and "next" not in second
    _, _, back = await get(http, server, second["prev"])
    assert [item["object"]["id"] for item in back["orderedItems"]] == newest[:20]
    _, _, last = await get(http, server, head["last"])
    assert [item["object"]["id"] for item in last["orderedItems"]] == newest[3:] and "next" not in last
    status, _, error = await get(http, server, f"{outbox}?page=true&max_id=abc")
    assert status == 400 and "error" in error


async def test_followers_and_following(
    http: aiohttp.ClientSession, server: str, conn: asyncpg.Connection, library: Actor
) -> None:
    people = [await citizen(conn, f"user{n}", "remote.example") for n in range(3)]
    for n, person in enumerate(people):
        await upsert_follow(conn, person.id, library.id, f"https://remote.example/follows/{n}", "accepted")
    pending = await citizen(conn, "shy", "other.example")
    await upsert_follow(conn, pending.id, library.id, "https://other.example/follows/1", "pending")
    followers = f"{BASE}/users/library/followers"
    _, _, head = await get(http, server, followers)
    assert (head["type"], head["totalItems"], head["first"]) == ("OrderedCollection", 3, f"{followers}?page=true")
    _, _, page = await get(http, server, head["first"])
    assert page["orderedItems"] == [p.uri for p in reversed(people)] and page["partOf"] == followers
    following = f"{BASE}/users/library/following"
    _, _, head = await get(http, server, following)
    assert (head["type"], head["totalItems"]) == ("OrderedCollection", 0)
    _, _, page = await get(http, server, head["first"])
    assert page["orderedItems"] == [] and page["type"] == "OrderedCollectionPage"


async def test_featured(
    http: aiohttp.ClientSession, server: str, conn: asyncpg.Connection, settings: Settings, resolver: ActorResolver, library: Actor
) -> None:
    first = await publish_post(conn, resolver, settings, library, "Opening hours")
    second = await publish_post(conn, resolver, settings, library, "Holiday closures", visibility="unlisted")
    await publish_post(conn, resolver, settings, library, "Not pinned")
    await pin_post(conn, settings, first.uri)
    await pin_post(conn, settings, second.uri)
    featured = f"{BASE}/users/library/collections/featured"
    status, kind, document = await get(http, server, featured)
    mastodon = json.loads((FIXTURES / "mastodon-featured.json").read_text())
    assert status == 200 and kind.startswith("application/activity+json")
    assert set(mastodon) - set(document) == set()
    assert (document["id"], document["type"], document["totalItems"]) == (featured, "OrderedCollection", 2)
    assert [note["id"] for note in document["orderedItems"]] == [second.uri, first.uri]
    assert set(mastodon["orderedItems"][0]) - {"@context", "actor", "source"} - set(document["orderedItems"][0]) == set()


async def test_note_json_and_html(
    http: aiohttp.ClientSession, server: str, conn: asyncpg.Connection, settings: Settings, resolver: ActorResolver, library: Actor
) -> None:
    post = await publish_post(conn, resolver, settings, library, "Story time <script>alert(1)</script> #kids", language="en")
    reply = await publish_post(conn, resolver, settings, library, "Bring a friend", in_reply_to=post.uri)
    status, kind, note = await get(http, server, post.uri)
    stats = await queries.note_stats(conn, [post.id])
    assert status == 200 and kind.startswith("application/activity+json")
    assert note == render_note(post, library, stats[post.id])
    assert note["replies"]["first"]["items"] == [reply.uri]
    _, kind, _ = await get(http, server, post.uri, LD)
    assert kind.startswith("application/ld+json")
    _, kind, same = await get(http, server, post.url or "", AP)
    assert kind.startswith("application/activity+json") and same == note

    for url in (post.url or "", post.uri):
        status, kind, page = await get(http, server, url, HTML)
        assert status == 200 and kind.startswith("text/html")
        assert "Story time &lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>" not in page
        assert '#<span>kids</span>' in page and "@library@city.example" in page and '<html lang="en">' in page

    status, _, create = await get(http, server, f"{post.uri}/activity")
    assert status == 200 and (create["type"], create["id"], create["object"]["id"]) == ("Create", f"{post.uri}/activity", post.uri)
    _, _, replies = await get(http, server, f"{post.uri}/replies")
    assert (replies["type"], replies["first"]["items"]) == ("Collection", [reply.uri])
    _, _, likes = await get(http, server, f"{post.uri}/likes")
    assert likes == {"@context": "https://www.w3.org/ns/activitystreams", "id": f"{post.uri}/likes", "type": "Collection", "totalItems": 0}


async def test_deleted_post_answers_410(
    http: aiohttp.ClientSession, server: str, conn: asyncpg.Connection, settings: Settings, resolver: ActorResolver, library: Actor
) -> None:
    post = await publish_post(conn, resolver, settings, library, "Soon gone")
    await delete_post(conn, settings, post.uri)
    status, kind, tombstone = await get(http, server, post.uri)
    assert status == 410 and kind.startswith("application/activity+json")
    assert (tombstone["id"], tombstone["type"], tombstone["formerType"]) == (post.uri, "Tombstone", "Note")
    status, kind, page = await get(http, server, post.url or "", HTML)
    assert status == 410 and kind.startswith("text/html") and "Soon gone" not in page
    status, _, error = await get(http, server, f"{post.uri}/activity")
    assert status == 410 and "error" in error
    _, _, head = await get(http, server, f"{BASE}/users/library/outbox")
    assert head["totalItems"] == 0


async def test_private_direct_and_unknown_answer_404(
    http: aiohttp.ClientSession, server: str, conn: asyncpg.Connection, settings: Settings, resolver: ActorResolver, library: Actor
) -> None:
    private = await publish_post(conn, resolver, settings, library, "followers only", visibility="private")
    direct = await publish_post(conn, resolver, settings, library, "just you", visibility="direct")
    for url in (private.uri, direct.uri, f"{direct.uri}/activity", f"{private.uri}/replies", private.url or "",
                f"{BASE}/users/library/statuses/999999", f"{BASE}/users/nobody/statuses/1", f"{BASE}/users/nobody/outbox"):
        status, kind, body = await get(http, server, url)
        assert status == 404 and kind.startswith("application/json") and set(body) == {"error"}, url
    status, kind, page = await get(http, server, private.url or "", HTML)
    assert status == 404 and kind.startswith("text/html") and "followers only" not in page
