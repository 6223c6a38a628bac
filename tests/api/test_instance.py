"""The Instance entities (v1 and v2) and the placeholder images."""

from __future__ import annotations

from dataclasses import replace

import aiohttp
import asyncpg
import pytest

from actors.queries import LocalActor
from fedi import __version__
from fedi.settings import Settings
from keys.keypairs import KeyVault
from tests.factories import citizen, make_department
from tests.servers import running_server


async def test_v2_instance(server: str, http: aiohttp.ClientSession, library: LocalActor) -> None:
    async with http.get(f"{server}/api/v2/instance") as response:
        assert response.status == 200
        instance = await response.json()
    assert set(instance) == {"domain", "title", "version", "source_url", "description", "usage", "thumbnail", "icon",
                             "languages", "configuration", "registrations", "api_versions", "contact", "rules"}
    assert instance["domain"] == "city.example" and instance["title"] == "city.example"
    assert instance["version"] == f"4.3.0 (compatible; fedi {__version__})"
    assert instance["api_versions"] == {"mastodon": 2}
    assert instance["usage"] == {"users": {"active_month": 1}}
    configuration = instance["configuration"]
    assert configuration["statuses"] == {"max_characters": 5000, "max_media_attachments": 4,
                                         "characters_reserved_per_url": 23}
    assert configuration["accounts"] == {"max_featured_tags": 0, "max_pinned_statuses": 5}
    assert configuration["media_attachments"]["supported_mime_types"] == ["image/jpeg", "image/png", "image/gif", "image/webp"]
    assert configuration["media_attachments"]["image_size_limit"] == 10 * 1024 * 1024
    assert configuration["media_attachments"]["video_size_limit"] == 0
    assert configuration["polls"]["max_options"] == 0
    assert configuration["translation"] == {"enabled": False}
    assert configuration["urls"]["streaming"] == "wss://city.example"
    assert instance["registrations"]["enabled"] is False and instance["registrations"]["approval_required"] is False
    assert instance["contact"] == {"email": "", "account": None}
    assert instance["rules"] == []
    assert instance["thumbnail"]["url"] == "https://city.example/headers/original/missing.png"


async def test_v1_instance_counts(
    server: str, http: aiohttp.ClientSession, conn: asyncpg.Connection, settings: Settings, vault: KeyVault
) -> None:
    await make_department(conn, settings, vault, "library")
    await make_department(conn, settings, vault, "museum")
    await citizen(conn, "alice", "peer.test")
    await citizen(conn, "bob", "peer.test")
    await citizen(conn, "carol", "other.test")
    async with http.get(f"{server}/api/v1/instance") as response:
        assert response.status == 200
        instance = await response.json()
    assert instance["uri"] == "city.example" and instance["registrations"] is False
    assert instance["stats"] == {"user_count": 2, "status_count": 0, "domain_count": 2}
    assert instance["urls"] == {"streaming_api": "wss://city.example"}
    assert instance["configuration"]["statuses"]["max_characters"] == 5000
    assert instance["contact_account"] is None and instance["rules"] == [] and instance["invites_enabled"] is False
    assert {"title", "short_description", "description", "email", "version", "thumbnail", "languages",
            "approval_required"} <= set(instance)


async def test_the_organisation_name_is_the_title(settings: Settings, http: aiohttp.ClientSession) -> None:
    named = replace(settings, organisation_name="City of Example")
    async with running_server(named) as running:
        async with http.get(f"{running.base_url}/api/v2/instance") as response:
            instance = await response.json()
    assert instance["title"] == "City of Example"
    assert "City of Example" in instance["description"]


@pytest.mark.parametrize(("path", "size"), [("/avatars/original/missing.png", (120, 120)),
                                            ("/headers/original/missing.png", (600, 200))])
async def test_placeholder_images_are_pngs(server: str, http: aiohttp.ClientSession, path: str, size: tuple[int, int]) -> None:
    async with http.get(f"{server}{path}") as response:
        assert response.status == 200 and response.content_type == "image/png"
        body = await response.read()
    assert body.startswith(b"\x89PNG\r\n\x1a\n")
    assert (int.from_bytes(body[16:20], "big"), int.from_bytes(body[20:24], "big")) == size
