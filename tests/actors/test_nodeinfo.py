"""NodeInfo discovery and documents with live counts."""

from __future__ import annotations

import json
from pathlib import Path

import aiohttp
import asyncpg
import pytest

from actors.departments import delete_department
from fedi import __version__
from fedi.settings import Settings
from keys.keypairs import KeyVault
from tests.factories import make_department

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "activitypub"


async def test_well_known_links_both_versions(server: str, http: aiohttp.ClientSession) -> None:
    async with http.get(f"{server}/.well-known/nodeinfo") as response:
        assert response.status == 200
        links = (await response.json())["links"]
    assert links == [
        {"rel": "http://nodeinfo.diaspora.software/ns/schema/2.0", "href": "https://city.example/nodeinfo/2.0"},
        {"rel": "http://nodeinfo.diaspora.software/ns/schema/2.1", "href": "https://city.example/nodeinfo/2.1"},
    ]


@pytest.mark.parametrize("version", ["2.0", "2.1"])
async def test_document_counts_live_departments(
    conn: asyncpg.Connection, settings: Settings, vault: KeyVault, server: str, http: aiohttp.ClientSession, version: str
) -> None:
    for name in ("library", "museum", "parks"):
        await make_department(conn, settings, vault, name)
    await delete_department(conn, "parks")
    async with http.get(f"{server}/nodeinfo/{version}") as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == (
            f'application/json; profile="http://nodeinfo.diaspora.software/ns/schema/{version}#"'
        )
        doc = await response.json(content_type=None)
    assert doc["version"] == version
    assert doc["software"] == {"name": "fedi", "version": __version__}
    assert doc["protocols"] == ["activitypub"]
    assert doc["usage"]["users"]["total"] == 2
    assert doc["openRegistrations"] is False


async def test_document_has_the_keys_mastodon_sends(server: str, http: aiohttp.ClientSession) -> None:
    mastodon = json.loads((FIXTURES / "mastodon-nodeinfo20.json").read_text())
    async with http.get(f"{server}/nodeinfo/2.0") as response:
        ours = await response.json(content_type=None)
    assert set(mastodon) <= set(ours)
    assert set(mastodon["software"]) <= set(ours["software"])


async def test_unknown_version_is_404(server: str, http: aiohttp.ClientSession) -> None:
    async with http.get(f"{server}/nodeinfo/3.0") as response:
        assert response.status == 404
        assert "2.0" in (await response.json())["error"]
