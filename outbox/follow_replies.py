"""Answers to Follows of a department: an Accept or a Reject, queued for the follower's personal inbox.

The inbox calls these when a Follow arrives (accepting at once unless the department approves
followers by hand); ``fedi admin follows approve|reject`` calls them for held requests. The Follow is
embedded as received when it is known, else rebuilt from its id, its actor and the department.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import asyncpg

from actors.queries import Actor
from fedi.settings import Settings
from outbox.builders import build_accept_follow, build_reject_follow
from outbox.fanout import enqueue_activity


def _check(settings: Settings, followee: Actor, follower: Actor) -> list[str]:
    """The follower's personal inbox (none for a local follower); the followee must be one of ours."""
    if not followee.local or not followee.uri.startswith(f"{settings.base_url}/"):
        raise ValueError(f"{followee.uri} is not a local actor")
    return [] if follower.local or not follower.inbox_url else [follower.inbox_url]


async def send_accept(
    conn: asyncpg.Connection, settings: Settings, followee: Actor, follower: Actor, follow_uri: str,
    follow_activity: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Queue the Accept of ``follower``'s Follow of ``followee``; return the activity."""
    inboxes = _check(settings, followee, follower)
    activity = build_accept_follow(followee, follow_activity or follow_uri, follower.uri)
    await enqueue_activity(conn, actor_id=followee.id, activity=activity, inboxes=inboxes)
    return activity


async def send_reject(
    conn: asyncpg.Connection, settings: Settings, followee: Actor, follower: Actor, follow_uri: str,
    follow_activity: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Queue the Reject of ``follower``'s Follow of ``followee``; return the activity."""
    inboxes = _check(settings, followee, follower)
    activity = build_reject_follow(followee, follow_activity or follow_uri, follower.uri)
    await enqueue_activity(conn, actor_id=followee.id, activity=activity, inboxes=inboxes)
    return activity
