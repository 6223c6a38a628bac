"""Follows of departments (Follow, Undo{Follow}) and answers to follows our actors sent (Accept, Reject)."""

from __future__ import annotations

import logging
from typing import Any

from actors import follow_queries
from actors.follow_queries import ACCEPTED, PENDING
from actors.follows import record_follow, undo_follow
from actors.remote_documents import object_id
from inbox.handlers.context import Activity, Context
from outbox.follow_replies import send_accept

log = logging.getLogger(__name__)


async def handle_follow(ctx: Context, activity: Activity) -> None:
    """Record a Follow of a department and accept it at once, unless the department approves followers by hand."""
    department = await ctx.department(object_id(activity.get("object")))
    if department is None:
        log.info("Follow %s: %s is not one of our departments", activity["id"], object_id(activity.get("object")))
        return
    follower = await ctx.sender()
    follow = await record_follow(ctx.conn, follower, department, activity["id"])
    if follow.state == ACCEPTED:
        await send_accept(ctx.conn, ctx.settings, department, follower, activity["id"], activity)
    else:
        log.info("Follow of %s by %s awaits approval", department.username, follower.uri)


async def handle_undo_follow(ctx: Context, follow: dict[str, Any] | None, follow_uri: str) -> bool:
    """Remove the sender's follow named by the Follow's id (or, embedded, by the department it names)."""
    follower = await ctx.known_sender()
    if follower is None:
        return False
    followee = await ctx.department(object_id(follow.get("object"))) if follow else None
    return await undo_follow(ctx.conn, follower, follow_uri, followee) is not None


async def handle_accept(ctx: Context, activity: Activity) -> None:
    """An Accept of a Follow one of our actors sent: the follow becomes accepted."""
    follow = await _our_follow_of_sender(ctx, activity)
    if follow is not None and follow.state == PENDING:
        await follow_queries.accept_follow(ctx.conn, follow.id)


async def handle_reject(ctx: Context, activity: Activity) -> None:
    """A Reject of a Follow one of our actors sent (or a follow ended by the followee): the follow goes."""
    follow = await _our_follow_of_sender(ctx, activity)
    if follow is not None:
        await follow_queries.delete_follow(ctx.conn, follow.id)


async def _our_follow_of_sender(ctx: Context, activity: Activity) -> follow_queries.Follow | None:
    """The follow named by the answer's object, when one of ours follows the sender; else logged and None."""
    follow_uri = object_id(activity.get("object"))
    follow = await follow_queries.follow_by_uri(ctx.conn, follow_uri) if follow_uri else None
    sender = await ctx.sender()
    if follow is None or follow.followee_id != sender.id:
        log.info("%s %s by %s: not an answer to a follow of ours", activity["type"], activity["id"], sender.uri)
        return None
    return follow
