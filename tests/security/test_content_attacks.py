"""Hostile HTML from remote servers: stored sanitized, and served inert on the web and through the client API."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import aiohttp
import asyncpg

from actors.queries import LocalActor
from fedi.settings import Settings
from outbox.posts import publish_post
from tests.api.content_fixtures import Caller
from tests.inbox.conftest import Deliver
from tests.security.support import RunQueues
from tests.servers import RunningInstance
from tests.web.conftest import HTML
from tests.web.test_pages import assert_inert

HOSTILE = (
    '<p>Opening hours?<script>alert(document.cookie)</script>'
    '<img src="x" onerror="alert(1)">'
    '<a href="javascript:alert(2)">javascript link</a> '
    '<a href="JaVaScRiPt&colon;alert(3)">encoded link</a> '
    '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCg0KTwvc2NyaXB0Pg==">data link</a> '
    '<a href="https://ok.example/" onclick="alert(5)" style="position:fixed">fine link</a>'
    '<iframe src="https://evil.example/"></iframe><svg onload="alert(6)"></svg>'
    '<form action="https://evil.example/"><input name="password"></form></p>'
)
DANGEROUS = ("<script", "onerror", "onclick", "onload", "javascript:", "data:text", "<iframe", "<svg", "<form", "<img", "style=")


def assert_harmless(html: str) -> None:
    """No element, attribute or URL of the hostile content survived (case-insensitively)."""
    lowered = html.lower()
    assert [token for token in DANGEROUS if token in lowered] == [], html


async def test_remote_html_with_scripts_handlers_and_unsafe_urls(
    deliver: Deliver, fixture: Callable[[str], dict[str, Any]], conn: asyncpg.Connection, instance: RunningInstance,
    settings: Settings, library: LocalActor, run_queues: RunQueues, caller: Callable[[str | None], Caller],
    http: aiohttp.ClientSession, server: str,
) -> None:
    announcement = await publish_post(conn, instance.services.resolver, settings, library, "The pool reopens on Monday.")
    create = fixture("mastodon-create-note")
    note = create["object"] = {
        **create["object"], "content": HOSTILE, "inReplyTo": announcement.uri, "summary": '<b onmouseover="alert(7)">cw</b>',
        "attachment": [{"type": "Document", "mediaType": "image/png", "url": "javascript:alert(8)", "name": "<script>x</script>"}],
    }
    assert (await deliver(create))[0] == 202
    await run_queues()

    stored = await conn.fetchrow("SELECT id, content_html, summary, attachments FROM posts WHERE uri = $1", note["id"])
    assert stored is not None
    assert_harmless(stored["content_html"])
    assert "Opening hours?" in stored["content_html"]
    assert '<a href="https://ok.example/" rel="nofollow noopener noreferrer">fine link</a>' in stored["content_html"]
    assert "javascript" not in str(stored["attachments"]).lower()

    async with http.get(server + (announcement.url or "").removeprefix(settings.base_url), headers=HTML) as response:
        assert response.status == 200
        page = await response.text()
    assert "Opening hours?" in page and "fine link" in page
    assert_inert(page)
    assert_harmless(page.split('<section id="replies"', 1)[1].split("</section>", 1)[0])  # the thread (the page has forms of its own)

    status = await caller("editor")("GET", f"/api/v1/statuses/{stored['id']}")
    assert status.status == 200 and "Opening hours?" in status.body["content"]
    assert_harmless(status.body["content"])
    assert "onmouseover" not in status.body["spoiler_text"]
    assert all("javascript" not in str(media).lower() for media in status.body["media_attachments"])
    context = await caller("editor")("GET", f"/api/v1/statuses/{announcement.id}/context")
    assert [s["id"] for s in context.body["descendants"]] == [str(stored["id"])]
    assert_harmless(context.body["descendants"][0]["content"])
