"""Addressing: the four visibilities as Mastodon writes them, and the inboxes a post goes to."""

from __future__ import annotations

import asyncpg
import pytest

from actors.documents import AS_PUBLIC
from actors.follow_queries import upsert_follow
from fedi.settings import Settings
from keys.keypairs import KeyVault
from outbox.addressing import Audience, address, delivery_inboxes
from tests.factories import make_department
from tests.factories import citizen

FOLLOWERS = "https://city.example/users/library/followers"
BOB = "https://remote.example/users/bob"
CAROL = "https://other.example/users/carol"


def test_visibilities() -> None:
    assert address("public", FOLLOWERS, [BOB, CAROL]) == Audience([AS_PUBLIC], [FOLLOWERS, BOB, CAROL])
    assert address("unlisted", FOLLOWERS, [BOB]) == Audience([FOLLOWERS], [AS_PUBLIC, BOB])
    assert address("private", FOLLOWERS, [BOB]) == Audience([FOLLOWERS, BOB], [])
    assert address("direct", FOLLOWERS, [BOB, CAROL, BOB]) == Audience([BOB, CAROL], [])
    assert address("public", FOLLOWERS, []) == Audience([AS_PUBLIC], [FOLLOWERS])
    with pytest.raises(ValueError):
        address("limited", FOLLOWERS, [])


async def test_delivery_inboxes(conn: asyncpg.Connection, settings: Settings, vault: KeyVault) -> None:
    library = await make_department(conn, settings, vault, "library")
    parks = await make_department(conn, settings, vault, "parks")
    bob = await citizen(conn, "bob", "remote.example")
    dave = await citizen(conn, "dave", "remote.example")
    carol = await citizen(conn, "carol", "other.example", shared_inbox=False)
    erin = await citizen(conn, "erin", "third.example")
    for n, follower in enumerate((bob, dave, carol)):
        await upsert_follow(conn, follower.id, library.id, f"https://x.example/follows/{n}", "accepted")
    await upsert_follow(conn, erin.id, library.id, "https://x.example/follows/pending", "pending")

    followers = ["https://remote.example/inbox", carol.inbox_url]
    assert sorted(await delivery_inboxes(conn, library, "public", [])) == sorted(followers)
    # a mentioned follower also gets the post in its personal inbox; local actors get nothing
    public = await delivery_inboxes(conn, library, "public", [bob, parks, erin], replied_to=erin)
    assert sorted(public) == sorted([*followers, bob.inbox_url, erin.inbox_url])
    assert len(public) == len(set(public))
    assert sorted(await delivery_inboxes(conn, library, "private", [erin])) == sorted([*followers, erin.inbox_url])
    assert await delivery_inboxes(conn, library, "direct", [erin, parks]) == [erin.inbox_url]
    assert await delivery_inboxes(conn, library, "direct", [], replied_to=carol) == [carol.inbox_url]
    assert await delivery_inboxes(conn, parks, "public", []) == []
