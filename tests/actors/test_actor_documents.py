"""Actor documents over real HTTP: what Mastodon fetches, and what browsers see at the same URL."""

from __future__ import annotations

import aiohttp
import asyncpg
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from actors.departments import delete_department, insert_department
from actors.validation import department_input
from fedi.settings import Settings
from keys.keypairs import KeyVault
from tests.factories import make_department

AP = {"Accept": "application/activity+json"}
LD = {"Accept": 'application/ld+json; profile="https://www.w3.org/ns/activitystreams"'}
MASTODON_ACCEPT = {"Accept": "application/activity+json, application/ld+json"}


async def test_department_document_has_what_mastodon_reads(
    conn: asyncpg.Connection, settings: Settings, vault: KeyVault, server: str, http: aiohttp.ClientSession
) -> None:
    await make_department(
        conn, settings, vault, "library",
        display_name="City Library",
        summary="Daily updates.\n\nAsk us anything: https://city.example/library",
        avatar_url="https://city.example/img/library.png",
        header_url="https://city.example/img/header.jpg",
        fields=[{"name": "Opening hours", "value": "Mon-Fri 9-18"}, {"name": "Web", "value": "https://city.example"}],
        manually_approves_followers=True,
    )
    async with http.get(f"{server}/users/library", headers=MASTODON_ACCEPT) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("application/activity+json")
        doc = await response.json(content_type=None)
    actor = "https://city.example/users/library"
    assert doc["@context"][:2] == ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"]
    assert doc["id"] == actor and doc["type"] == "Organization"
    assert doc["preferredUsername"] == "library" and doc["name"] == "City Library"
    assert doc["inbox"] == f"{actor}/inbox" and doc["outbox"] == f"{actor}/outbox"
    assert doc["followers"] == f"{actor}/followers" and doc["following"] == f"{actor}/following"
    assert doc["featured"] == f"{actor}/collections/featured"
    assert doc["endpoints"] == {"sharedInbox": "https://city.example/inbox"}
    assert doc["url"] == "https://city.example/@library"
    assert doc["summary"].startswith("<p>Daily updates.</p><p>Ask us anything: <a href=\"https://city.example/library\"")
    assert doc["manuallyApprovesFollowers"] is True and doc["discoverable"] is True
    assert doc["icon"] == {"type": "Image", "url": "https://city.example/img/library.png", "mediaType": "image/png"}
    assert doc["image"]["mediaType"] == "image/jpeg"
    assert doc["attachment"][0] == {"type": "PropertyValue", "name": "Opening hours", "value": "Mon-Fri 9-18"}
    assert '<a href="https://city.example"' in doc["attachment"][1]["value"]
    assert doc["published"].endswith("Z")
    key = doc["publicKey"]
    assert key["id"] == f"{actor}#main-key" and key["owner"] == actor
    public = serialization.load_pem_public_key(key["publicKeyPem"].encode())
    assert isinstance(public, rsa.RSAPublicKey) and public.key_size == 2048


async def test_ld_json_accept_gets_ld_json_back(
    conn: asyncpg.Connection, settings: Settings, vault: KeyVault, server: str, http: aiohttp.ClientSession
) -> None:
    await make_department(conn, settings, vault, "museum")
    async with http.get(f"{server}/users/museum", headers=LD) as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == 'application/ld+json; profile="https://www.w3.org/ns/activitystreams"'
        assert (await response.json(content_type=None))["id"] == "https://city.example/users/museum"
        assert "Accept" in response.headers["Vary"]


async def test_browser_gets_a_page_at_the_same_url(
    conn: asyncpg.Connection, settings: Settings, vault: KeyVault, server: str, http: aiohttp.ClientSession
) -> None:
    await make_department(conn, settings, vault, "schools", display_name="Schools <b>&</b> Youth",
                          summary="<script>alert(1)</script> Term starts Monday.")
    for path in ("/users/schools", "/@schools"):
        async with http.get(f"{server}{path}", headers={"Accept": "text/html,application/xhtml+xml"}) as response:
            assert response.status == 200
            assert response.headers["Content-Type"].startswith("text/html")
            page = await response.text()
        assert "Schools &lt;b&gt;&amp;&lt;/b&gt; Youth" in page
        assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
        assert "@schools@city.example" in page
        assert '<link rel="alternate" type="application/activity+json" href="https://city.example/users/schools">' in page


async def test_unknown_department_is_404_with_json_error(server: str, http: aiohttp.ClientSession) -> None:
    async with http.get(f"{server}/users/nobody", headers=AP) as response:
        assert response.status == 404
        assert "nobody" in (await response.json())["error"]
    async with http.get(f"{server}/@nobody") as response:
        assert response.status == 404


async def test_deleted_department_answers_410_with_tombstone(
    conn: asyncpg.Connection, settings: Settings, vault: KeyVault, server: str, http: aiohttp.ClientSession
) -> None:
    await make_department(conn, settings, vault, "closed")
    await delete_department(conn, "closed")
    async with http.get(f"{server}/users/closed", headers=AP) as response:
        assert response.status == 410
        doc = await response.json(content_type=None)
    assert doc["type"] == "Tombstone" and doc["formerType"] == "Organization"
    assert doc["id"] == "https://city.example/users/closed"
    async with http.get(f"{server}/@closed") as response:
        assert response.status == 410


async def test_instance_actor_is_an_application_with_a_key(server: str, http: aiohttp.ClientSession) -> None:
    async with http.get(f"{server}/actor", headers=AP) as response:
        assert response.status == 200
        doc = await response.json(content_type=None)
    assert doc["id"] == "https://city.example/actor" and doc["type"] == "Application"
    assert doc["preferredUsername"] == "city.example"
    assert doc["manuallyApprovesFollowers"] is True
    assert doc["publicKey"]["id"] == "https://city.example/actor#main-key"
    assert doc["publicKey"]["owner"] == "https://city.example/actor"
    async with http.get(f"{server}/actor", headers=AP) as response:  # same key on the next fetch
        assert (await response.json(content_type=None))["publicKey"] == doc["publicKey"]


async def test_department_created_without_key_gets_one_on_first_fetch(
    conn: asyncpg.Connection, settings: Settings, server: str, http: aiohttp.ClientSession
) -> None:
    await insert_department(conn, settings, department_input("parks", {}))
    async with http.get(f"{server}/users/parks", headers=AP) as first:
        key = (await first.json(content_type=None))["publicKey"]
    async with http.get(f"{server}/users/parks", headers=AP) as second:
        assert (await second.json(content_type=None))["publicKey"] == key
    stored = await conn.fetchval(
        "SELECT count(*) FROM keys k JOIN actors a ON a.id = k.actor_id WHERE a.username = 'parks'"
    )
    assert stored == 1
