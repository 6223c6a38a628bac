"""Formatting: plain text to Mastodon's HTML, with mentions resolved through the real resolver."""

from __future__ import annotations

import asyncpg
import pytest

from actors.departments import delete_department
from actors.remote import ActorResolver
from fedi.html import sanitize_html
from fedi.settings import Settings
from keys.keypairs import KeyVault
from outbox.formatting import format_post, handles_in, render_text
from tests.factories import citizen, make_department
from tests.peers import RemotePeer
from tests.servers import RunningInstance


@pytest.fixture
def resolver(instance: RunningInstance) -> ActorResolver:
    return instance.services.resolver


def test_paragraphs_line_breaks_links_and_escaping(settings: Settings) -> None:
    text = "Roadworks on <Main St> & 5th.\nDetails: https://city.example/works?id=1&x=2.\n\n\nThanks!"
    result = render_text(text, {}, settings)
    assert result.html == (
        "<p>Roadworks on &lt;Main St&gt; &amp; 5th.<br>Details: "
        '<a href="https://city.example/works?id=1&amp;x=2" rel="nofollow noopener noreferrer" target="_blank">'
        "https://city.example/works?id=1&amp;x=2</a>.</p><p>Thanks!</p>"
    )
    assert result.mentions == () and result.tags == ()
    assert sanitize_html(result.html) == result.html.replace(' target="_blank"', "")  # only markup Mastodon keeps


def test_hashtags(settings: Settings) -> None:
    result = render_text("#Roadworks today, #roadworks again; #2024 and x#y are not tags. #Straßen https://a.example/#frag", {}, settings)
    assert '<a href="https://city.example/tags/roadworks" class="mention hashtag" rel="tag">#<span>Roadworks</span></a>' in result.html
    assert "#2024" in result.html and "x#y" in result.html and "tags/2024" not in result.html
    assert 'href="https://a.example/#frag"' in result.html
    assert result.tags == (
        {"type": "Hashtag", "href": "https://city.example/tags/roadworks", "name": "#Roadworks"},
        {"type": "Hashtag", "href": "https://city.example/tags/stra%C3%9Fen", "name": "#Straßen"},
    )


def test_handles_found_in_text(settings: Settings) -> None:
    text = "@library and @Bob@Remote.example:8443, again @bob@remote.example:8443. Mail info@city.example, see https://x.example/@carol"
    assert handles_in(text, settings.domain) == ["library@city.example", "bob@remote.example:8443"]


async def test_mentions_resolve_to_h_cards_and_tags(
    conn: asyncpg.Connection, settings: Settings, vault: KeyVault, resolver: ActorResolver
) -> None:
    await make_department(conn, settings, vault, "library")
    bob = await citizen(conn, "bob", "remote.example")
    result = await format_post("Hi @bob@remote.example, ask @library or @nobody or @ghost@city.example!", resolver, settings)
    assert result.html == (
        '<p>Hi <span class="h-card"><a href="https://remote.example/@bob" class="u-url mention">@<span>bob</span></a></span>, '
        'ask <span class="h-card"><a href="https://city.example/@library" class="u-url mention">@<span>library</span></a></span>'
        " or @nobody or @ghost@city.example!</p>"
    )
    assert [a.uri for a in result.mentions] == [bob.uri, "https://city.example/users/library"]
    assert result.tags == (
        {"type": "Mention", "href": bob.uri, "name": "@bob@remote.example"},
        {"type": "Mention", "href": "https://city.example/users/library", "name": "@library@city.example"},
    )


async def test_deleted_department_and_unreachable_host_stay_plain(
    conn: asyncpg.Connection, settings: Settings, vault: KeyVault, resolver: ActorResolver
) -> None:
    await make_department(conn, settings, vault, "parks")
    await delete_department(conn, "parks")
    result = await format_post("@parks @someone@other.test:9", resolver, settings)
    assert result.html == "<p>@parks @someone@other.test:9</p>" and result.mentions == ()


async def test_remote_mention_resolved_through_webfinger(settings: Settings, resolver: ActorResolver, peer: RemotePeer) -> None:
    result = await format_post(f"Thanks @alice@{peer.host}", resolver, settings)
    assert [a.uri for a in result.mentions] == [f"{peer.base_url}/users/alice"]
    assert f'<a href="{peer.base_url}/@alice" class="u-url mention">@<span>alice</span></a>' in result.html
    assert result.tags == ({"type": "Mention", "href": f"{peer.base_url}/users/alice", "name": f"@alice@{peer.host}"},)
