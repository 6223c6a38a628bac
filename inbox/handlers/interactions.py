"""Likes, boosts and emoji reactions to department posts, and their Undo.

A Like carrying a reaction (Misskey's ``_misskey_reaction``, or ``content``) and Pleroma/Akkoma's
``EmojiReact`` are stored as reactions with the emoji; a custom emoji (``:name:``) keeps the image URL
of its ``Emoji`` tag. An Announce may name the post by its id or by its web address; only public and
unlisted posts can be boosted. Activities about posts that are not ours are ignored.
"""

from __future__ import annotations

import logging
from typing import Any

from actors.remote_documents import link_href, object_id
from inbox import queries
from inbox.handlers.context import Activity, Context
from inbox.handlers.note_documents import as_list
from inbox.queries import PostRef

log = logging.getLogger(__name__)

BOOSTABLE = ("public", "unlisted")
MAX_REACTION = 64
# Reactions of Misskey versions that named them instead of sending an emoji.
MISSKEY_LEGACY = {
    "like": "👍", "love": "❤️", "laugh": "😆", "hmm": "🤔", "surprise": "😮", "congrats": "🎉",
    "angry": "💢", "confused": "😥", "rip": "😇", "pudding": "🍮", "star": "⭐",
}


def reaction_of(activity: dict[str, Any]) -> tuple[str, str | None] | None:
    """The reaction an activity carries: (emoji or ``:name:``, custom emoji image URL), or None."""
    value = activity.get("content") or activity.get("_misskey_reaction")
    if not isinstance(value, str) or not value.strip():
        return None
    value = MISSKEY_LEGACY.get(value.strip(), value.strip())[:MAX_REACTION]
    for tag in as_list(activity.get("tag")):
        if isinstance(tag, dict) and tag.get("type") == "Emoji" and tag.get("name") in (value, value.strip(":")):
            url = link_href(tag.get("icon"))
            return value, url if url and url.startswith(("https://", "http://")) else None
    return value, None


def kind_of(activity: dict[str, Any]) -> tuple[str, str, str | None]:
    """How an interaction is stored: (kind, emoji, custom emoji URL)."""
    if activity.get("type") == "Announce":
        return "announce", "", None
    reaction = reaction_of(activity)
    return ("like", "", None) if reaction is None else ("reaction", reaction[0], reaction[1])


async def handle_like(ctx: Context, activity: Activity) -> None:
    """A Like of a department's post (a reaction when it carries an emoji)."""
    await _record(ctx, activity)


async def handle_emoji_react(ctx: Context, activity: Activity) -> None:
    """An emoji reaction to a department's post (Pleroma, Akkoma)."""
    if reaction_of(activity) is None:
        log.info("EmojiReact %s carries no emoji", activity["id"])
        return
    await _record(ctx, activity)


async def handle_announce(ctx: Context, activity: Activity) -> None:
    """A boost of a department's public or unlisted post."""
    await _record(ctx, activity, BOOSTABLE)


async def handle_undo_interaction(ctx: Context, inner: dict[str, Any] | None, uri: str) -> bool:
    """Remove the sender's Like, Announce or reaction named by its id (or, embedded, by what it names)."""
    sender = await ctx.known_sender()
    if sender is None:
        return False
    if await queries.delete_interaction(ctx.conn, uri, sender.id):
        return True
    post = await _our_post(ctx, inner) if inner else None
    if inner is None or post is None:
        return False
    kind, content, _ = kind_of(inner)
    return await queries.delete_interaction_on(ctx.conn, kind, sender.id, post.id, content)


async def _our_post(ctx: Context, activity: dict[str, Any]) -> PostRef | None:
    reference = object_id(activity.get("object"))
    post = await queries.local_post_by_reference(ctx.conn, reference) if reference else None
    return post if post is not None and post.deleted_at is None else None


async def _record(ctx: Context, activity: Activity, visibilities: tuple[str, ...] | None = None) -> None:
    post = await _our_post(ctx, activity)
    if post is None or (visibilities is not None and post.visibility not in visibilities):
        log.info("%s %s: %s is not a post of ours it may concern", activity["type"], activity["id"], object_id(activity.get("object")))
        return
    sender = await ctx.sender()
    kind, content, emoji_url = kind_of(activity)
    if not await queries.insert_interaction(ctx.conn, activity["id"], kind, sender.id, post.id, content, emoji_url):
        log.info("%s %s: already recorded", activity["type"], activity["id"])
