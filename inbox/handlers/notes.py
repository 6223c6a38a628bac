"""Remote posts that concern a department: replies in its threads and posts mentioning it.

A Create is stored when its object replies to a stored post (a department's post, or a reply already
kept in such a thread) or mentions a department; anything else is not ours to keep and is ignored.
Update and Delete change only a post stored under the sender's authorship.
"""

from __future__ import annotations

import logging
from typing import Any

from actors.queries import Actor
from actors.remote_documents import has_type, object_id
from inbox import queries
from inbox.handlers.context import Activity, Context
from inbox.handlers.note_documents import NOTE_TYPES, as_list, mention_uris, parse_post

log = logging.getLogger(__name__)


async def handle_create(ctx: Context, activity: Activity) -> None:
    """Store a reply to a department's thread, or a post mentioning a department."""
    note = await _sender_note(ctx, activity)
    if note is not None:
        await store_note(ctx, note, await ctx.sender())


async def handle_update_note(ctx: Context, activity: Activity) -> None:
    """Apply an edit to a stored post by its author (a post that newly concerns a department is stored)."""
    note = await _sender_note(ctx, activity)
    if note is None:
        return
    author = await ctx.sender()
    existing = await queries.post_by_uri(ctx.conn, note["id"])
    if existing is None:
        await store_note(ctx, note, author)
    elif existing.local or existing.author_id != author.id:
        log.info("Update %s: %s is not %s's post", activity["id"], note["id"], author.uri)
    else:
        await queries.update_remote_post(ctx.conn, existing.id, parse_post(note, author.followers_url))
        await queries.replace_mentions(ctx.conn, existing.id, mention_uris(note))


async def handle_delete_note(ctx: Context, activity: Activity) -> None:
    """Delete a stored post (by id, or a Tombstone) when the sender wrote it."""
    uri = object_id(activity.get("object"))
    existing = await queries.post_by_uri(ctx.conn, uri) if uri else None
    sender = await ctx.known_sender()
    if existing is None or sender is None:
        log.info("Delete %s: %s is not stored", activity["id"], uri)
    elif existing.local or existing.author_id != sender.id:
        log.info("Delete %s: %s is not %s's post", activity["id"], uri, sender.uri)
    else:
        await queries.delete_remote_post(ctx.conn, existing.id)


async def store_note(ctx: Context, note: dict[str, Any], author: Actor) -> bool:
    """Keep a post when it is in a department's thread or mentions a department; True if it was stored now."""
    reply_to = object_id(note.get("inReplyTo"))
    parent = None
    if reply_to:
        parent = await queries.post_by_uri(ctx.conn, reply_to) or await queries.local_post_by_reference(ctx.conn, reply_to)
    mentioned = await queries.departments_among(ctx.conn, mention_uris(note))
    if parent is None and not mentioned:
        log.info("%s %s neither replies to a thread of ours nor mentions a department", note.get("type"), note["id"])
        return False
    stored = await queries.insert_remote_post(
        ctx.conn, parse_post(note, author.followers_url), author.id, parent.id if parent else None
    )
    if stored is not None:
        await queries.replace_mentions(ctx.conn, stored.id, mention_uris(note))
    return stored is not None


async def _sender_note(ctx: Context, activity: Activity) -> dict[str, Any] | None:
    """The activity's post (fetched when referenced) if it is one and the sender wrote it; else logged and None."""
    obj = activity.get("object")
    if isinstance(obj, dict) and not has_type(obj, NOTE_TYPES):
        log.info("%s %s of a %r: not a post, ignored", activity["type"], activity["id"], obj.get("type"))
        return None
    note = await ctx.own_object(obj)
    if note is None or not has_type(note, NOTE_TYPES):
        log.info("%s %s: the object is not a post of the sender's", activity["type"], activity["id"])
        return None
    authors = [object_id(a) for a in as_list(note.get("attributedTo"))]
    if authors and ctx.actor_uri not in authors:
        log.info("%s %s: %s is attributed to %s, not the sender", activity["type"], activity["id"], note["id"], authors)
        return None
    return note
