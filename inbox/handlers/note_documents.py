"""Reading remote posts as Mastodon, Pleroma/Akkoma, Misskey, GoToSocial and Lemmy write them.

Lenient on shapes: ``to``/``cc``/``tag``/``attachment`` may be a single value or a list, links may be
strings or ``Link`` objects, the text may be in ``content`` or only in ``contentMap``. Strict on what
is kept: HTML is sanitized, plain text is bounded, only http(s) URLs are stored, unknown fields are
ignored.
"""

from __future__ import annotations

import html
import re
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

from actors.remote_documents import first, link_href, object_id
from fedi.html import html_to_text, sanitize_html
from inbox.queries import RemotePost

NOTE_TYPES = frozenset({"Note", "Question", "Article", "Page"})
PUBLIC = frozenset({"https://www.w3.org/ns/activitystreams#Public", "http://www.w3.org/ns/activitystreams#Public", "as:Public", "Public"})
MAX_TEXT, MAX_NAME, MAX_ITEMS = 500, 1500, 64
LANGUAGE_RE = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8}){0,3}$")


def as_list(value: Any) -> list[Any]:
    """A single value or a list, as a list (None as an empty one)."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def addresses(value: Any) -> list[str]:
    """The ids in an addressing field (``to``, ``cc``): a string, an object or a list of either."""
    return [uri for uri in (object_id(item) for item in as_list(value)) if isinstance(uri, str)][:MAX_ITEMS * 4]


def visibility(to: list[str], cc: list[str], followers_url: str | None) -> str:
    """Mastodon's reading of the addressing: public, unlisted, private (followers) or direct."""
    if PUBLIC & set(to):
        return "public"
    if PUBLIC & set(cc):
        return "unlisted"
    if followers_url and followers_url in to + cc:
        return "private"
    return "direct"


def _http_url(value: Any) -> str | None:
    url = link_href(value)
    try:
        return url if url and urlsplit(url).scheme in ("https", "http") else None
    except ValueError:  # not a URL at all (an unbalanced "[" in its host)
        return None


def _text(value: Any, limit: int = MAX_TEXT) -> str:
    return value.strip()[:limit] if isinstance(value, str) else ""


def content_html(obj: dict[str, Any]) -> str:
    """The sanitized HTML text; a titled Article or Page (Lemmy) gets its title first."""
    content = obj.get("content")
    if not isinstance(content, str):
        content_map = obj.get("contentMap")
        content = next((v for v in content_map.values() if isinstance(v, str)), "") if isinstance(content_map, dict) else ""
    name = _text(obj.get("name"))
    if name and obj.get("type") in ("Article", "Page"):
        content = f"<p><strong>{html.escape(name)}</strong></p>{content}"
    return sanitize_html(content)


def language(obj: dict[str, Any]) -> str | None:
    """The language named by ``contentMap`` (Mastodon writes one entry), when it is a language tag."""
    content_map = obj.get("contentMap")
    if isinstance(content_map, dict):
        for tag in content_map:
            if isinstance(tag, str) and LANGUAGE_RE.match(tag):
                return tag.lower()
    return None


def tags(obj: dict[str, Any]) -> list[dict[str, Any]]:
    """Mentions, hashtags and custom emoji, each as ``{type, name, href}`` (emoji: ``{type, name, url}``)."""
    found: list[dict[str, Any]] = []
    for tag in as_list(obj.get("tag"))[:MAX_ITEMS]:
        if not isinstance(tag, dict):
            continue
        kind, name = tag.get("type"), _text(tag.get("name"), 255)
        if kind in ("Mention", "Hashtag") and (href := _http_url(tag.get("href"))):
            found.append({"type": kind, "name": name, "href": href})
        elif kind == "Emoji" and name and (url := _http_url(tag.get("icon"))):
            found.append({"type": "Emoji", "name": name, "url": url})
    return found


def mention_uris(obj: dict[str, Any]) -> list[str]:
    """The actor ids of the object's ``Mention`` tags."""
    return [tag["href"] for tag in tags(obj) if tag["type"] == "Mention"]


def _dimension(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 100_000 else None


def attachments(obj: dict[str, Any]) -> list[dict[str, Any]]:
    """Attachment metadata: type, mediaType, url, name (the alt text), width, height, blurhash."""
    found: list[dict[str, Any]] = []
    for item in as_list(obj.get("attachment"))[:MAX_ITEMS]:
        if not isinstance(item, dict) or not (url := _http_url(item.get("url") or item.get("href"))):
            continue
        link = first(item.get("url"))
        media_type = item.get("mediaType") or (link.get("mediaType") if isinstance(link, dict) else None)
        found.append({
            "type": _text(item.get("type"), 64) or "Document",
            "mediaType": _text(media_type, 255) or None,
            "url": url,
            "name": _text(item.get("name"), MAX_NAME) or None,
            "width": _dimension(item.get("width")),
            "height": _dimension(item.get("height")),
            "blurhash": _text(item.get("blurhash"), 255) or None,
        })
    return found


def timestamp(value: Any) -> datetime | None:
    """An ISO 8601 time as ActivityPub writes it, or None."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def parse_post(obj: dict[str, Any], followers_url: str | None) -> RemotePost:
    """The stored columns of a remote Note (Question, Article, Page) whose id and author were checked."""
    to, cc = addresses(obj.get("to")), addresses(obj.get("cc"))
    summary = obj.get("summary")
    return RemotePost(
        uri=str(obj["id"]),
        object_type=str(obj.get("type")),
        url=_http_url(obj.get("url")),
        in_reply_to_uri=object_id(obj.get("inReplyTo")),
        visibility=visibility(to, cc, followers_url),
        content_html=content_html(obj),
        summary=html_to_text(sanitize_html(summary))[:MAX_TEXT] if isinstance(summary, str) else "",
        sensitive=obj.get("sensitive") is True,
        language=language(obj),
        to_uris=to,
        cc_uris=cc,
        tags=tags(obj),
        attachments=attachments(obj),
        published_at=timestamp(obj.get("published")) or datetime.now(timezone.utc),
        edited_at=timestamp(obj.get("updated")),
    )
