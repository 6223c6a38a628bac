"""GET /api/v2/search: handles and URLs (resolved over the network with resolve=true), words, hashtags."""

from __future__ import annotations

from collections.abc import Callable

import asyncpg

from actors.queries import LocalActor
from tests.api.content_fixtures import Caller
from tests.peers import RemotePeer

Call = Callable[[str | None], Caller]


async def test_resolving_remote_accounts_and_posts(caller: Call, conn: asyncpg.Connection, peer: RemotePeer) -> None:
    handle = f"@alice@{peer.host}"
    unknown = await caller("editor")("GET", "/api/v2/search", params={"q": handle})
    assert unknown.status == 200 and unknown.body == {"accounts": [], "statuses": [], "hashtags": []}
    found = await caller("editor")("GET", "/api/v2/search", params={"q": handle, "resolve": "true", "type": "accounts"})
    assert [a["acct"] for a in found.body["accounts"]] == [f"alice@{peer.host}"]
    assert (await caller("viewer")("GET", "/api/v2/search", params={"q": handle})).body["accounts"][0]["username"] == "alice"

    note = peer.note(peer.users["alice"], "<p>Lost a book <script>x</script></p>", url=None)
    by_url = await caller("viewer")("GET", "/api/v2/search", params={"q": note["id"], "resolve": "1", "type": "statuses"})
    assert [s["uri"] for s in by_url.body["statuses"]] == [note["id"]]
    assert "<script>" not in by_url.body["statuses"][0]["content"]
    assert await conn.fetchval("SELECT count(*) FROM posts WHERE uri = $1 AND NOT local", note["id"]) == 1
    missing = await caller("editor")("GET", "/api/v2/search", params={"q": f"{peer.base_url}/nothing", "resolve": "true"})
    assert missing.body["statuses"] == [] and missing.body["accounts"] == []


async def test_words_hashtags_and_local_accounts(caller: Call, library: LocalActor) -> None:
    await caller("editor")("POST", "/api/v1/statuses", json={"status": "Summer reading #SummerReading"})
    await caller("editor")("POST", "/api/v1/statuses", json={"status": "Secret plans", "visibility": "direct"})
    words = await caller("museum")("GET", "/api/v2/search", params={"q": "reading"})
    assert [s["content"][:18] for s in words.body["statuses"]] == ["<p>Summer reading "]
    assert [t["name"] for t in words.body["hashtags"]] == []
    tags = await caller(None)("GET", "/api/v2/search", params={"q": "#summer"})
    assert tags.body["hashtags"] == [{"name": "summerreading", "url": "https://city.example/tags/summerreading", "history": []}]
    assert tags.body["statuses"] == []  # anonymous callers search no posts
    assert (await caller("museum")("GET", "/api/v2/search", params={"q": "Secret"})).body["statuses"] == []
    accounts = await caller(None)("GET", "/api/v2/search", params={"q": "lib", "type": "accounts"})
    assert [a["username"] for a in accounts.body["accounts"]] == ["library"]
    handle = await caller(None)("GET", "/api/v2/search", params={"q": "@library@city.example"})
    assert [a["id"] for a in handle.body["accounts"]] == [str(library.id)]


async def test_search_errors(caller: Call) -> None:
    assert (await caller(None)("GET", "/api/v2/search")).status == 422
    assert (await caller(None)("GET", "/api/v2/search", params={"q": "x", "type": "people"})).status == 422
    refused = await caller(None)("GET", "/api/v2/search", params={"q": "x", "resolve": "true"})
    assert refused.status == 401 and "error" in refused.body
    assert (await caller("bad-token")("GET", "/api/v2/search", params={"q": "x"})).status == 401
    assert (await caller("editor")("GET", "/api/v2/search", params={"q": "x", "offset": "-1"})).status == 422
