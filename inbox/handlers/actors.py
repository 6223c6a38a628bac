"""Remote actors changing themselves: profile updates, account deletion, account moves."""

from __future__ import annotations

import logging

from actors.errors import InvalidDocument
from actors.remote_documents import object_id, parse_actor
from actors.remote_queries import delete_remote_actor, upsert_remote_actor
from inbox.handlers.context import Activity, Context

log = logging.getLogger(__name__)


async def handle_update_actor(ctx: Context, activity: Activity) -> None:
    """Refresh the stored actor from an Update of itself (its embedded document, or fetched again)."""
    obj = activity.get("object")
    if object_id(obj) != ctx.actor_uri:
        log.info("Update %s: %s may only update itself, not %s", activity["id"], ctx.actor_uri, object_id(obj))
        return
    if not isinstance(obj, dict):
        await ctx.resolver.get_actor(ctx.actor_uri, refresh=True)
        return
    try:
        data = parse_actor(obj)
    except InvalidDocument as error:
        log.warning("Update %s: unusable actor document: %s", activity["id"], error)
        return
    await upsert_remote_actor(ctx.conn, data)


async def handle_delete_actor(ctx: Context, activity: Activity) -> None:
    """Forget an actor that deleted itself: its replies, follows, interactions and keys go with it."""
    if await delete_remote_actor(ctx.conn, ctx.actor_uri):
        log.info("Delete %s: forgot the actor %s", activity["id"], ctx.actor_uri)


async def handle_move(ctx: Context, activity: Activity) -> None:
    """Acknowledge an account move (its followers re-follow the new account from their own servers)."""
    log.info("Move %s: %s moved to %s", activity["id"], ctx.actor_uri, object_id(activity.get("target")))
