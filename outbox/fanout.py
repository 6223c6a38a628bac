"""Fan-out: turn one outgoing activity into one queued delivery per distinct inbox.

Publishers call ``enqueue_activity`` inside their own transaction, so a post and its deliveries
are committed together (and the workers are woken at commit). The activity is stored once, by its
id; deliveries are unique per (activity, inbox), so fanning out twice adds nothing. Deliveries to a
host that is paused for failing too long are recorded as ``skipped`` (and counted so in the metrics)
and never sent; inboxes the instance blocks (``actors.blocks``) get no delivery at all.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

import asyncpg

from actors.blocks import blocked_inboxes
from fedi.metrics import count_delivery
from fedi.worker import notify_work
from outbox import delivery_queries as queries

log = logging.getLogger(__name__)

_DEFAULT_PORTS = {"https": 443, "http": 80}


def host_of(url: str) -> str | None:
    """The host a URL's deliveries are tracked under: the lower-case name, with a non-default port."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    name = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return name if port is None or port == _DEFAULT_PORTS[parts.scheme] else f"{name}:{port}"


async def enqueue_activity(
    conn: asyncpg.Connection,
    *,
    actor_id: int,
    activity: dict[str, Any],
    inboxes: Iterable[str],
    post_id: int | None = None,
) -> int:
    """Store ``activity`` and queue it for each distinct inbox; return how many deliveries were added (skipped included)."""
    activity_id = await queries.insert_outbox_activity(
        conn, activity["id"], actor_id, str(activity.get("type", "")), post_id, activity
    )
    targets: dict[str, str] = {}
    for url in inboxes:
        host = host_of(url)
        if host is None:
            log.warning("not delivering %s to %r: not an http(s) URL with a host", activity["id"], url)
        else:
            targets.setdefault(url, host)
    for url in await blocked_inboxes(conn, list(targets)):
        log.info("not delivering %s to %s: blocked by this instance", activity["id"], url)
        del targets[url]
    added, skipped = await queries.insert_deliveries(conn, activity_id, list(targets.items()))
    if skipped:
        log.info("not delivering %s to %d inboxes now: their hosts are paused", activity["id"], skipped)
        count_delivery("skipped", skipped)
    if added > skipped:
        await notify_work(conn)
    return added


async def follower_inboxes(conn: asyncpg.Connection, actor_id: int) -> list[str]:
    """Where to deliver to a local actor's followers: each accepted remote follower's shared inbox, else its inbox."""
    return await queries.follower_inboxes(conn, actor_id)
