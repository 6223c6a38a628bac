"""Reports (Flag) for the admins, and remote actors blocking departments (Block, Undo{Block}).

A block is stored so that fan-out leaves the blocker out; reports list the department and the posts
of ours they name (Mastodon sends the account and the posts; Lemmy only the post, with the reason in
``summary``).
"""

from __future__ import annotations

import logging
from typing import Any

from actors.remote_documents import object_id
from fedi.html import html_to_text, sanitize_html
from inbox import queries
from inbox.handlers.context import Activity, Context
from inbox.handlers.note_documents import addresses

log = logging.getLogger(__name__)

MAX_REPORT_TEXT = 5000


async def handle_flag(ctx: Context, activity: Activity) -> None:
    """Store a report about a department or its posts."""
    named = addresses(activity.get("object"))
    departments = await queries.departments_among(ctx.conn, named)
    posts = await queries.local_posts_among(ctx.conn, named)
    if not departments and not posts:
        log.info("Flag %s names nothing of ours", activity["id"])
        return
    reporter = await ctx.sender()
    target = departments[0] if departments else posts[0].author_id
    text = activity.get("content") or activity.get("summary")
    content = html_to_text(sanitize_html(text))[:MAX_REPORT_TEXT] if isinstance(text, str) else ""
    await queries.insert_report(ctx.conn, activity["id"], reporter.id, target, [p.id for p in posts], content, activity)


async def handle_block(ctx: Context, activity: Activity) -> None:
    """Record that the sender blocks a department: deliveries to the sender stop."""
    department = await ctx.department(object_id(activity.get("object")))
    if department is None:
        log.info("Block %s: %s is not one of our departments", activity["id"], object_id(activity.get("object")))
        return
    blocker = await ctx.sender()
    await queries.insert_block(ctx.conn, activity["id"], blocker.id, department.id)


async def handle_undo_block(ctx: Context, inner: dict[str, Any] | None, uri: str) -> bool:
    """Remove the sender's block named by its id (or, embedded, the block of the department it names)."""
    sender = await ctx.known_sender()
    if sender is None:
        return False
    blocked = await ctx.department(object_id(inner.get("object"))) if inner else None
    return await queries.delete_block(ctx.conn, sender.id, uri, blocked.id if blocked else None)
