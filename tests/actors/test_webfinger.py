"""WebFinger and host-meta over real HTTP, including the round trip Mastodon makes."""

from __future__ import annotations

from urllib.parse import quote, urlsplit

import aiohttp
import asyncpg
import pytest

from actors.departments import delete_department
from fedi.settings import Settings
from keys.keypairs import KeyVault
from tests.factories import make_department

AP = {"Accept": "application/activity+json"}


async def finger(http: aiohttp.ClientSession, server: str, resource: str, extra: str = "") -> tuple[int, dict, str]:
    async with http.get(f"{server}/.well-known/webfinger?resource={quote(resource)}{extra}") as response:
        return response.status, await response.json(content_type=None), response.headers["Content-Type"]


@pytest.fixture
async def library(conn: asyncpg.Connection, settings: Settings, vault: KeyVault) -> None:
    await make_department(conn, settings, vault, "library", avatar_url="https://city.example/a/library.png")


@pytest.mark.usefixtures("library")
@pytest.mark.parametrize(
    "resource",
    [
        "acct:library@city.example",
        "acct:Library@City.Example",
        "library@city.example",
        "@library@city.example",
        "https://city.example/users/library",
        "https://city.example/@library",
    ],
)
async def test_resource_forms_resolve_to_the_actor(server: str, http: aiohttp.ClientSession, resource: str) -> None:
    status, jrd, content_type = await finger(http, server, resource)
    assert status == 200
    assert content_type.startswith("application/jrd+json")
    assert jrd["subject"] == "acct:library@city.example"
    assert jrd["aliases"] == ["https://city.example/@library", "https://city.example/users/library"]
    links = {link["rel"]: link for link in jrd["links"]}
    assert links["self"] == {"rel": "self", "type": "application/activity+json", "href": "https://city.example/users/library"}
    assert links["http://webfinger.net/rel/profile-page"]["href"] == "https://city.example/@library"
    assert links["http://webfinger.net/rel/avatar"]["type"] == "image/png"


@pytest.mark.usefixtures("library")
async def test_rel_parameter_filters_links(server: str, http: aiohttp.ClientSession) -> None:
    status, jrd, _ = await finger(http, server, "acct:library@city.example", "&rel=self")
    assert status == 200
    assert [link["rel"] for link in jrd["links"]] == ["self"]


@pytest.mark.usefixtures("library")
async def test_mastodon_round_trip(server: str, http: aiohttp.ClientSession) -> None:
    """Mastodon fetches the actor, then fingers preferredUsername@host and needs ``self`` to point back."""
    status, jrd, _ = await finger(http, server, "acct:library@city.example")
    actor_url = next(link["href"] for link in jrd["links"] if link["rel"] == "self")
    path = urlsplit(actor_url).path
    async with http.get(f"{server}{path}", headers=AP) as response:
        actor = await response.json(content_type=None)
    assert actor["id"] == actor_url
    host = urlsplit(actor["id"]).netloc
    status, again, _ = await finger(http, server, f"acct:{actor['preferredUsername']}@{host}")
    assert status == 200
    assert next(link["href"] for link in again["links"] if link["rel"] == "self") == actor["id"]


async def test_instance_actor_is_discoverable(server: str, http: aiohttp.ClientSession) -> None:
    async with http.get(f"{server}/actor", headers=AP):
        pass
    status, jrd, _ = await finger(http, server, "acct:city.example@city.example")
    assert status == 200
    assert {"rel": "self", "type": "application/activity+json", "href": "https://city.example/actor"} in jrd["links"]
    status, jrd, _ = await finger(http, server, "https://city.example/actor")
    assert status == 200 and jrd["subject"] == "acct:city.example@city.example"


@pytest.mark.usefixtures("library")
@pytest.mark.parametrize(
    ("resource", "status"),
    [
        ("acct:nobody@city.example", 404),
        ("acct:library@elsewhere.example", 404),
        ("https://elsewhere.example/users/library", 404),
        ("https://city.example/about", 404),
        ("not a resource", 400),
        ("acct:library", 400),
        ("acct:@city.example", 400),
    ],
)
async def test_bad_resources(server: str, http: aiohttp.ClientSession, resource: str, status: int) -> None:
    got, body, _ = await finger(http, server, resource)
    assert got == status
    assert isinstance(body["error"], str) and body["error"]


async def test_missing_resource_is_400(server: str, http: aiohttp.ClientSession) -> None:
    async with http.get(f"{server}/.well-known/webfinger") as response:
        assert response.status == 400
        assert "resource" in (await response.json())["error"]


async def test_deleted_department_is_gone(
    conn: asyncpg.Connection, settings: Settings, vault: KeyVault, server: str, http: aiohttp.ClientSession
) -> None:
    await make_department(conn, settings, vault, "oldunit")
    await delete_department(conn, "oldunit")
    status, body, _ = await finger(http, server, "acct:oldunit@city.example")
    assert status == 410 and "deleted" in body["error"]


async def test_host_meta_points_to_webfinger(server: str, http: aiohttp.ClientSession) -> None:
    async with http.get(f"{server}/.well-known/host-meta") as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("application/xrd+xml")
        body = await response.text()
    assert 'template="https://city.example/.well-known/webfinger?resource={uri}"' in body
    async with http.get(f"{server}/.well-known/host-meta.json") as response:
        links = (await response.json())["links"]
    assert links == [{"rel": "lrdd", "template": "https://city.example/.well-known/webfinger?resource={uri}"}]
