"""What the pages and feeds show of posts and profiles: sanitized HTML, titles, links, durations.

Every post's HTML goes through the sanitizer again when shown (remote HTML was sanitized when
stored; doing it at the edge too keeps a bad row from ever reaching a page or a feed).
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Any, Mapping, Sequence
from urllib.parse import urlsplit

from markupsafe import Markup

from fedi.html import html_to_text, sanitize_html
from fedi.text import URL_RE
from web.queries import Entry

TITLE_LENGTH = 80


@dataclass(frozen=True)
class ProfileField:
    """A profile field ready to show: its value as HTML whose links carry ``rel="me"``."""

    name: str
    value: Markup


@dataclass(frozen=True)
class Attachment:
    """A post's attachment: this server's own images are shown, the rest linked (remote media is never loaded)."""

    url: str
    kind: str  # image, video, audio, document…
    description: str
    image: bool  # shown inline on the pages

    @property
    def label(self) -> str:
        """``image: A reading room`` (the kind, then the description when there is one)."""
        return f"{self.kind}: {self.description}" if self.description else self.kind


def post_html(entry: Entry) -> Markup:
    """A post's content, sanitized."""
    return Markup(sanitize_html(entry.content_html))


def feed_html(entry: Entry) -> str:
    """A post's content for feeds: sanitized, its attachments after it as images or links."""
    parts = [sanitize_html(entry.content_html)]
    for item in attachments(entry, ""):
        url, description = html.escape(item.url), html.escape(item.description)
        if item.kind == "image":
            parts.append(f'<p><img src="{url}" alt="{description}"></p>')
        else:
            parts.append(f'<p><a href="{url}">{html.escape(item.label)}</a></p>')
    return "".join(parts)


def post_text(entry: Entry) -> str:
    """A post's visible text."""
    return html_to_text(sanitize_html(entry.content_html))


def post_title(entry: Entry, limit: int = TITLE_LENGTH) -> str:
    """A one-line title: the content warning, else the start of the text."""
    text = entry.summary or " ".join(post_text(entry).split())
    if not text:
        return "Update"
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def is_web_url(value: Any) -> bool:
    """Whether ``value`` is an absolute http(s) URL, the only kind the pages link to."""
    return isinstance(value, str) and urlsplit(value).scheme in ("http", "https") and bool(urlsplit(value).netloc)


def attachments(entry: Entry, own_origin: str) -> list[Attachment]:
    """A post's attachments with web URLs; images of a local post served from ``own_origin`` are shown inline."""
    found = []
    for item in entry.attachments:
        if not isinstance(item, Mapping) or not is_web_url(item.get("url")):
            continue
        url = str(item["url"])
        media_type = str(item.get("mediaType") or "")
        kind = (media_type or str(item.get("type") or "file")).split("/")[0].lower()
        description = str(item.get("name") or "").strip()
        image = entry.local and media_type.startswith("image/") and url.startswith(own_origin + "/")
        found.append(Attachment(url, kind, description, image))
    return found


def _shown_url(url: str) -> str:
    """A URL as profiles show it: without the scheme or a lone trailing slash."""
    return re.sub(r"^https?://", "", url, flags=re.IGNORECASE).removesuffix("/")


def field_html(value: str) -> Markup:
    """A field's plain text, escaped, with its URLs as ``rel="me"`` links (Mastodon verifies those)."""
    out, last = [], 0
    for match in URL_RE.finditer(value):
        url = match.group(0)
        out.append(html.escape(value[last : match.start()], quote=False))
        out.append(f'<a href="{html.escape(url)}" rel="me nofollow noopener noreferrer">{html.escape(_shown_url(url))}</a>')
        last = match.end()
    out.append(html.escape(value[last:], quote=False))
    return Markup("".join(out))


def profile_fields(fields: Sequence[Mapping[str, str]]) -> list[ProfileField]:
    """A department's fields for its page."""
    return [ProfileField(str(f.get("name", "")), field_html(str(f.get("value", "")))) for f in fields]


def me_links(fields: Sequence[Mapping[str, str]]) -> list[str]:
    """The URLs in a department's fields, for ``<link rel="me">``."""
    return [m.group(0) for f in fields for m in URL_RE.finditer(str(f.get("value", "")))]


def duration(seconds: float | None) -> str:
    """A waiting time for people: ``45 min``, ``3 h 20 min``, ``2 d 4 h``; an en dash when unknown."""
    if seconds is None:
        return "–"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"
