"""Mastodon's Status, Context, MediaAttachment, Status::Mention, Status::Tag and Application entities.

Pure functions from stored rows (and the author's Account, rendered by ``api.accounts``) to the JSON
Mastodon serves, attribute for attribute. Ids are database ids as strings; times are UTC with
milliseconds. A remote post's attachments have no row of their own: they get ids ``<post>-<n>``.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import Any
from urllib.parse import quote

from actors.urls import department_urls
from api.accounts.entities import render_time
from api.statuses.media_queries import MediaRecord
from api.statuses.queries import MentionedAccount, PostExtras
from fedi.html import html_to_text
from fedi.settings import Settings
from outbox.queries import LISTED, Post

Json = dict[str, Any]


def api_time(moment: datetime | None) -> str | None:
    """A time as Mastodon writes it (``2019-12-08T03:48:33.901Z``), or None."""
    return None if moment is None else render_time(moment)


def media_url(settings: Settings, file_name: str) -> str:
    """Where an uploaded file is served."""
    return f"{settings.base_url}/media/{file_name}"


def _size(width: int | None, height: int | None) -> Json | None:
    if not width or not height:
        return None
    return {"width": width, "height": height, "size": f"{width}x{height}", "aspect": width / height}


def render_media(media: MediaRecord, settings: Settings) -> Json:
    """The MediaAttachment of an upload (the preview is the image itself: nothing is resized)."""
    url = media_url(settings, media.file_name)
    size = _size(media.width, media.height)
    meta: Json = {"original": size, "small": size}
    if media.focus_x is not None and media.focus_y is not None:
        meta["focus"] = {"x": media.focus_x, "y": media.focus_y}
    return {
        "id": str(media.id), "type": media.kind, "url": url, "preview_url": url, "remote_url": None,
        "text_url": None, "meta": meta, "description": media.description, "blurhash": media.blurhash,
    }


def render_remote_media(post: Post, index: int, attachment: Json) -> Json:
    """The MediaAttachment of a remote post's attachment, as its Document described it."""
    media_type = str(attachment.get("mediaType") or "")
    kind = next((k for k in ("image", "video", "audio") if media_type.startswith(f"{k}/")), "unknown")
    size = _size(attachment.get("width"), attachment.get("height"))
    url = attachment.get("url")
    return {
        "id": f"{post.id}-{index}", "type": kind, "url": url, "preview_url": url, "remote_url": url,
        "text_url": None, "meta": {"original": size} if size else {}, "description": attachment.get("name"),
        "blurhash": attachment.get("blurhash"),
    }


def render_mention(actor: MentionedAccount, settings: Settings) -> Json:
    """A Status::Mention."""
    if actor.local:
        url, handle = department_urls(settings.base_url, actor.username).profile, actor.username
    else:
        url, handle = actor.url or actor.uri, f"{actor.username}@{actor.domain}"
    return {"id": str(actor.id), "username": actor.username, "url": url, "acct": handle}


@lru_cache(maxsize=4096)
def _quoted(name: str) -> str:
    """A tag name as a URL path segment (a page of statuses repeats a few tags many times)."""
    return quote(name)


def render_tags(post: Post, settings: Settings) -> list[Json]:
    """The post's hashtags as Status::Tag (linking to this server's tag pages)."""
    tags = []
    for tag in post.tags:
        name = str(tag.get("name") or "").lstrip("#").lower()
        if tag.get("type") == "Hashtag" and name:
            tags.append({"name": name, "url": f"{settings.base_url}/tags/{_quoted(name)}"})
    return tags


def render_status(
    post: Post, account: Json, extras: PostExtras, *, mentions: list[Json], tags: list[Json], media: list[Json],
    viewer_id: int | None, with_source: bool = False,
) -> Json:
    """A Status; ``with_source`` adds ``text``, the plain source, as the answer to a deletion does."""
    status: Json = {
        "id": str(post.id),
        "created_at": api_time(post.published_at),
        "in_reply_to_id": None if post.in_reply_to_id is None else str(post.in_reply_to_id),
        "in_reply_to_account_id": None if extras.parent_author_id is None else str(extras.parent_author_id),
        "sensitive": post.sensitive,
        "spoiler_text": post.summary,
        "visibility": post.visibility,
        "language": post.language,
        "uri": post.uri,
        "url": post.url or post.uri,
        "replies_count": extras.replies,
        "reblogs_count": extras.reblogs,
        "favourites_count": extras.favourites,
        "edited_at": api_time(post.edited_at),
        "content": post.content_html,
        "reblog": None,
        "application": None if extras.application_name is None else {
            "name": extras.application_name, "website": extras.application_website,
        },
        "account": account,
        "media_attachments": media,
        "mentions": mentions,
        "tags": tags,
        "emojis": [],
        "card": None,
        "poll": None,
    }
    if viewer_id is not None:
        status |= {"favourited": extras.favourited, "reblogged": extras.reblogged, "muted": False, "bookmarked": False}
        if post.local and post.author_id == viewer_id and post.visibility in LISTED:
            status["pinned"] = post.pinned_at is not None
        status["filtered"] = []
    if with_source:
        status["text"] = post.source if post.source is not None else html_to_text(post.content_html)
    return status


def render_reblog(boosted: Json, account: Json, announce_uri: str, boosted_at: datetime) -> Json:
    """A department's boost of a post, wrapping the boosted Status.

    A boost has no status of its own here, so the wrapper takes the boosted post's id: whatever a
    client does next with it (favourite, unreblog, open the thread) acts on that post, as Mastodon's
    calls on a reblog do.
    """
    return boosted | {
        "created_at": api_time(boosted_at), "uri": announce_uri, "url": None, "account": account, "content": "",
        "spoiler_text": "", "media_attachments": [], "mentions": [], "tags": [], "application": None,
        "in_reply_to_id": None, "in_reply_to_account_id": None, "reblog": boosted, "reblogged": True,
    }


def render_source(post: Post) -> Json:
    """A StatusSource: the plain text a client edits."""
    text = post.source if post.source is not None else html_to_text(post.content_html)
    return {"id": str(post.id), "text": text, "spoiler_text": post.summary}


def render_context(ancestors: list[Json], descendants: list[Json]) -> Json:
    """A Context."""
    return {"ancestors": ancestors, "descendants": descendants}
