"""Publishing: the functions every publisher calls (the CLI now, the client API later).

Each one checks its input first (raising ``ValidationError`` or ``NotFound`` with nothing changed),
does its network work (mention resolution, fetching a remote post replied to) before any write, then
stores the post and queues its activity with ``enqueue_activity`` inside one transaction (a savepoint
when the caller already holds one), so the post and its deliveries are committed together.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import asyncpg

from actors.errors import FetchFailed, InvalidDocument, NotFound, ValidationError
from actors.queries import DEPARTMENT_TYPE, Actor
from actors.remote import ActorResolver
from actors.remote_documents import host_of, object_id
from actors.remote_queries import actor_by_id
from actors.urls import department_urls
from fedi.settings import Settings
from outbox import queries
from outbox.addressing import VISIBILITIES, address, delivery_inboxes
from outbox.builders import (
    build_add_featured, build_create_note, build_delete_note, build_remove_featured, build_update_note, note_ids,
)
from outbox.fanout import enqueue_activity, follower_inboxes
from outbox.formatting import FormattedText, format_post, mention_tag
from outbox.queries import NewPost, Post

MAX_TEXT = 5000
MAX_SUMMARY = 500
MAX_PINNED = 5
LANGUAGE_RE = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{2,8})?$")


@dataclass(frozen=True)
class ReplyTarget:
    """The post replied to: its id, its row when stored, and its author when known."""

    uri: str
    post_id: int | None
    author: Actor | None


def check_text(text: str) -> str:
    """A post's text: not blank, at most MAX_TEXT characters."""
    text = text.replace("\r\n", "\n").strip()
    if not text:
        raise ValidationError("the post is empty")
    if len(text) > MAX_TEXT:
        raise ValidationError(f"the post has {len(text)} characters; at most {MAX_TEXT} are allowed")
    return text


def _check_body(text: str, attachments: list[dict[str, Any]] | None) -> str:
    """The text of a post, which may be empty only when the post has attachments."""
    return check_text(text) if text.strip() or not attachments else ""


def check_options(visibility: str, summary: str, language: str | None) -> tuple[str, str | None]:
    """The content warning and language, checked along with the visibility."""
    if visibility not in VISIBILITIES:
        raise ValidationError(f"visibility must be one of {', '.join(VISIBILITIES)}, not {visibility!r}")
    summary = " ".join(summary.split())
    if len(summary) > MAX_SUMMARY:
        raise ValidationError(f"the content warning has {len(summary)} characters; at most {MAX_SUMMARY} are allowed")
    if language is not None:
        language = language.strip().lower()
        if not LANGUAGE_RE.match(language):
            raise ValidationError(f"language must be an ISO 639 code such as 'en' or 'fr', not {language!r}")
    return summary, language


def _check_author(department: Actor) -> None:
    if not department.local or department.deleted_at is not None or department.actor_type != DEPARTMENT_TYPE:
        raise ValidationError(f"{department.handle} is not a live department of this server")


async def reply_target(conn: asyncpg.Connection, resolver: ActorResolver, uri: str) -> ReplyTarget:
    """The post ``uri`` (an id, or a local page URL) names: a stored one, or a remote one fetched for its author."""
    parent = await queries.post_by_uri(conn, uri) or await queries.post_by_url(conn, uri)
    if parent is not None:
        if parent.deleted_at is not None:
            raise ValidationError(f"cannot reply to {uri}: it was deleted")
        return ReplyTarget(parent.uri, parent.id, await actor_by_id(conn, parent.author_id))
    if resolver.is_local(uri):
        raise NotFound(f"no post {uri}")
    try:
        document = await resolver.fetch_document(uri)
        author_uri = object_id(document.get("attributedTo"))
        if author_uri is None or host_of(author_uri) != host_of(document["id"]):
            raise InvalidDocument(f"{uri} names no author on its own host")
        author = await resolver.get_actor(author_uri)
    except (FetchFailed, InvalidDocument) as exc:
        raise ValidationError(f"cannot reply to {uri}: {exc}") from exc
    stored = await queries.post_by_uri(conn, document["id"])
    return ReplyTarget(document["id"], None if stored is None else stored.id, author)


def _mentions(formatted: FormattedText, author: Actor, target: ReplyTarget | None) -> tuple[list[Actor], list[dict[str, Any]]]:
    """The mentioned actors and tags, with the author of the post replied to mentioned as Mastodon does."""
    mentions, tags = list(formatted.mentions), list(formatted.tags)
    replied = None if target is None else target.author
    if replied is not None and replied.id != author.id and all(a.id != replied.id for a in mentions):
        mentions.insert(0, replied)
        tags.insert(0, mention_tag(replied))
    return mentions, tags


async def publish_post(
    conn: asyncpg.Connection, resolver: ActorResolver, settings: Settings, department: Actor, text: str, *,
    staff_id: int | None = None, visibility: str = "public", in_reply_to: str | None = None, summary: str = "",
    sensitive: bool = False, language: str | None = None, attachments: list[dict[str, Any]] | None = None,
) -> Post:
    """Publish a post as ``department`` and queue its Create for every recipient.

    ``attachments`` are the post's media as ``Document`` objects (type, mediaType, url, name, width,
    height, blurhash); a post with attachments may have no text.
    """
    text = _check_body(text, attachments)
    summary, language = check_options(visibility, summary, language)
    _check_author(department)
    target = None if in_reply_to is None else await reply_target(conn, resolver, in_reply_to.strip())
    formatted = await format_post(text, resolver, settings)
    mentions, tags = _mentions(formatted, department, target)
    urls = department_urls(settings.base_url, department.username)
    audience = address(visibility, urls.followers, [a.uri for a in mentions])
    values = NewPost(
        text, formatted.html, summary, sensitive or bool(summary), language, audience.to, audience.cc, tags,
        list(attachments or []),
    )
    async with conn.transaction():
        post_id = await queries.next_post_id(conn)
        uri, url = note_ids(urls.id, urls.profile, post_id)
        post = await queries.insert_local_post(
            conn, post_id, uri, url, department.id, staff_id, visibility,
            None if target is None else target.uri, None if target is None else target.post_id, values,
        )
        await queries.replace_mentions(conn, post.id, [a.id for a in mentions])
        inboxes = await delivery_inboxes(conn, department, visibility, mentions, None if target is None else target.author)
        await enqueue_activity(
            conn, actor_id=department.id, activity=build_create_note(post, department), inboxes=inboxes, post_id=post.id
        )
    return post


async def own_post(conn: asyncpg.Connection, uri: str) -> tuple[Post, Actor]:
    """A live local post by its id or page URL, with its author."""
    post = await queries.post_by_uri(conn, uri.strip()) or await queries.post_by_url(conn, uri.strip())
    if post is None or post.deleted_at is not None:
        raise NotFound(f"no post {uri}" if post is None else f"post {uri} was deleted")
    if not post.local:
        raise ValidationError(f"{uri} is not a post of this server")
    author = await actor_by_id(conn, post.author_id)
    assert author is not None
    return post, author


async def _known_reply_author(conn: asyncpg.Connection, resolver: ActorResolver, post: Post) -> ReplyTarget | None:
    """The target of a post's reply, for an edit: the fetch may fail now, and the edit goes on without it."""
    if post.in_reply_to_uri is None:
        return None
    try:
        return await reply_target(conn, resolver, post.in_reply_to_uri)
    except (ValidationError, NotFound):
        return None


async def edit_post(
    conn: asyncpg.Connection, resolver: ActorResolver, settings: Settings, uri: str, text: str, *,
    summary: str | None = None, sensitive: bool | None = None, language: str | None = None,
    attachments: list[dict[str, Any]] | None = None,
) -> Post:
    """Replace a post's text (and optionally its content warning, flag, language, attachments) and queue an Update."""
    post, author = await own_post(conn, uri)
    attachments = post.attachments if attachments is None else attachments
    text = _check_body(text, attachments)
    summary, language = check_options(
        post.visibility, post.summary if summary is None else summary, post.language if language is None else language
    )
    _check_author(author)
    formatted = await format_post(text, resolver, settings)
    target = await _known_reply_author(conn, resolver, post)
    mentions, tags = _mentions(formatted, author, target)
    audience = address(post.visibility, department_urls(settings.base_url, author.username).followers, [a.uri for a in mentions])
    flag = post.sensitive if sensitive is None else sensitive
    values = NewPost(
        text, formatted.html, summary, flag or bool(summary), language, audience.to, audience.cc, tags, list(attachments)
    )
    async with conn.transaction():
        previous = await queries.mentioned_actors(conn, post.id)
        edited = await queries.update_local_post(conn, post.id, values)
        await queries.replace_mentions(conn, post.id, [a.id for a in mentions])
        # actors no longer mentioned learn of the edit too, as Mastodon does
        inboxes = await delivery_inboxes(conn, author, post.visibility, [*mentions, *previous])
        await enqueue_activity(
            conn, actor_id=author.id, activity=build_update_note(edited, author), inboxes=inboxes, post_id=post.id
        )
    return edited


async def delete_post(conn: asyncpg.Connection, settings: Settings, uri: str) -> Post:
    """Delete a post (its URL then answers 410) and queue a Delete for everyone who received it."""
    post, author = await own_post(conn, uri)
    async with conn.transaction():
        mentions = await queries.mentioned_actors(conn, post.id)
        deleted = await queries.mark_post_deleted(conn, post.id)
        inboxes = await delivery_inboxes(conn, author, post.visibility, mentions)
        await enqueue_activity(
            conn, actor_id=author.id, activity=build_delete_note(deleted, author), inboxes=inboxes, post_id=post.id
        )
    return deleted


async def pin_post(conn: asyncpg.Connection, settings: Settings, uri: str) -> Post:
    """Pin a public or unlisted post to its department's profile (featured) and tell the followers."""
    post, author = await own_post(conn, uri)
    if post.visibility not in queries.LISTED:
        raise ValidationError(f"only public and unlisted posts can be pinned; {uri} is {post.visibility}")
    if post.pinned_at is not None:
        raise ValidationError(f"{uri} is already pinned")
    if len(await queries.pinned_posts(conn, author.id, listed_only=False)) >= MAX_PINNED:
        raise ValidationError(f"{author.username} already has {MAX_PINNED} pinned posts; unpin one first")
    featured = department_urls(settings.base_url, author.username).featured
    async with conn.transaction():
        pinned = await queries.set_pinned(conn, post.id, True)
        await enqueue_activity(
            conn, actor_id=author.id, activity=build_add_featured(pinned, author, featured),
            inboxes=await follower_inboxes(conn, author.id), post_id=post.id,
        )
    return pinned


async def unpin_post(conn: asyncpg.Connection, settings: Settings, uri: str) -> Post:
    """Take a post off its department's profile and tell the followers."""
    post, author = await own_post(conn, uri)
    if post.pinned_at is None:
        raise ValidationError(f"{uri} is not pinned")
    featured = department_urls(settings.base_url, author.username).featured
    async with conn.transaction():
        unpinned = await queries.set_pinned(conn, post.id, False)
        activity = build_remove_featured(unpinned, author, featured, datetime.now(timezone.utc))
        await enqueue_activity(
            conn, actor_id=author.id, activity=activity, inboxes=await follower_inboxes(conn, author.id), post_id=post.id
        )
    return unpinned
