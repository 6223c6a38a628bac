"""Who a post is addressed to (``to``/``cc``) and which inboxes receive it.

The four visibilities read as Mastodon writes them:
public (to Public, cc followers and mentions), unlisted (to followers, cc Public and mentions),
private or followers-only (to followers and mentions) and direct (to the mentioned actors only).
A receiver derives the visibility back from these lists, so they must never widen it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import asyncpg

from actors.documents import AS_PUBLIC
from actors.queries import Actor
from outbox.fanout import follower_inboxes

VISIBILITIES = ("public", "unlisted", "private", "direct")


@dataclass(frozen=True)
class Audience:
    """A post's ``to`` and ``cc`` lists."""

    to: list[str]
    cc: list[str]


def _distinct(uris: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(uris))


def address(visibility: str, followers_url: str, mentions: Sequence[str]) -> Audience:
    """``to`` and ``cc`` of a post with this visibility, author's followers collection and mentioned actor ids."""
    if visibility == "public":
        return Audience([AS_PUBLIC], _distinct([followers_url, *mentions]))
    if visibility == "unlisted":
        return Audience([followers_url], _distinct([AS_PUBLIC, *mentions]))
    if visibility == "private":
        return Audience(_distinct([followers_url, *mentions]), [])
    if visibility == "direct":
        return Audience(_distinct(mentions), [])
    raise ValueError(f"unknown visibility {visibility!r}")


def personal_inboxes(actors: Iterable[Actor | None]) -> list[str]:
    """The personal inboxes of the remote actors among ``actors``."""
    return _distinct(a.inbox_url for a in actors if a is not None and not a.local and a.inbox_url)


async def delivery_inboxes(
    conn: asyncpg.Connection, author: Actor, visibility: str, mentions: Sequence[Actor], replied_to: Actor | None = None
) -> list[str]:
    """Where a post goes: the followers' inboxes (unless direct), each mentioned remote actor's inbox,
    and the inbox of the remote author of the post replied to; each once, local actors left out."""
    followers = [] if visibility == "direct" else await follower_inboxes(conn, author.id)
    return _distinct([*followers, *personal_inboxes([*mentions, replied_to])])
