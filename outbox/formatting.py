"""Plain text a staff member wrote, turned into the HTML and tags Mastodon publishes.

Paragraphs split on blank lines and lines join with ``<br>``; URLs become links; ``@user@host`` and
``@user`` (a local department) become h-card mentions when the handle resolves to an actor, and stay
plain text when it does not; ``#tags`` link to this server's tag pages. Everything else is escaped.
"""

from __future__ import annotations

import asyncio
import html
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote

from actors.errors import FetchFailed, InvalidDocument
from actors.queries import Actor
from actors.urls import department_urls
from fedi.settings import Settings
from fedi.text import URL_RE

_HOST = r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*(?::[0-9]{1,5})?"
_MENTION = rf"(?<![\w/.@])@(?P<user>[a-z0-9_]+(?:[a-z0-9_.-]*[a-z0-9_])?)(?:@(?P<host>{_HOST}))?"
_HASHTAG = r"(?<![\w/&#])#(?P<tag>\w*[^\W\d_]\w*)"
TOKEN_RE = re.compile(rf"(?P<url>{URL_RE.pattern})|(?P<mention>{_MENTION})|(?P<hashtag>{_HASHTAG})", re.IGNORECASE)
MAX_MENTIONS = 50


class HandleResolver(Protocol):
    """What formatting needs of ``actors.remote.ActorResolver``."""

    async def resolve_handle(self, handle: str) -> Actor:
        """The actor a ``user@host`` handle names."""


@dataclass(frozen=True)
class FormattedText:
    """A post's HTML, the actors it mentions and its ``tag`` entries (Mention and Hashtag objects)."""

    html: str
    mentions: tuple[Actor, ...]
    tags: tuple[dict[str, Any], ...]


def _handle(match: re.Match[str], domain: str) -> str:
    return f"{match['user']}@{(match['host'] or domain)}".lower()


def handles_in(text: str, domain: str) -> list[str]:
    """The distinct ``user@host`` handles mentioned in ``text`` (``@user`` alone is on ``domain``)."""
    found: dict[str, None] = {}
    for match in TOKEN_RE.finditer(text):
        if match["mention"]:
            found.setdefault(_handle(match, domain))
    return list(found)[:MAX_MENTIONS]


def actor_page(actor: Actor, settings: Settings) -> str:
    """The address a mention links to: the actor's profile page, or its id."""
    if actor.local:
        return department_urls(settings.base_url, actor.username).profile
    return actor.url or actor.uri


def mention_tag(actor: Actor) -> dict[str, str]:
    """The ``Mention`` tag of an actor."""
    return {"type": "Mention", "href": actor.uri, "name": f"@{actor.username}@{actor.domain}"}


async def resolve_handles(resolver: HandleResolver, handles: Iterable[str]) -> dict[str, Actor]:
    """Each handle that resolves to a live actor; the others are left out."""
    handles = list(handles)
    results = await asyncio.gather(*(resolver.resolve_handle(h) for h in handles), return_exceptions=True)
    resolved = {}
    for handle, result in zip(handles, results):
        if isinstance(result, Actor):
            if result.deleted_at is None:
                resolved[handle] = result
        elif not isinstance(result, (FetchFailed, InvalidDocument)):
            raise result
    return resolved


def render_text(text: str, actors: dict[str, Actor], settings: Settings) -> FormattedText:
    """Format ``text`` with already resolved mentions (``handle -> actor``)."""
    mentions: dict[str, Actor] = {}
    hashtags: dict[str, dict[str, str]] = {}

    def token(match: re.Match[str]) -> str:
        if match["url"]:
            url = match["url"]
            return (
                f'<a href="{html.escape(url)}" rel="nofollow noopener noreferrer" target="_blank">'
                f"{html.escape(url, quote=False)}</a>"
            )
        if match["mention"]:
            actor = actors.get(_handle(match, settings.domain))
            if actor is None:
                return html.escape(match[0], quote=False)
            mentions.setdefault(actor.uri, actor)
            return (
                f'<span class="h-card"><a href="{html.escape(actor_page(actor, settings))}" class="u-url mention">'
                f"@<span>{html.escape(actor.username, quote=False)}</span></a></span>"
            )
        tag = match["tag"]
        href = f"{settings.base_url}/tags/{quote(tag.lower())}"
        hashtags.setdefault(tag.lower(), {"type": "Hashtag", "href": href, "name": f"#{tag}"})
        return (
            f'<a href="{html.escape(href)}" class="mention hashtag" rel="tag">'
            f"#<span>{html.escape(tag, quote=False)}</span></a>"
        )

    def line(text_line: str) -> str:
        out, last = [], 0
        for match in TOKEN_RE.finditer(text_line):
            out.append(html.escape(text_line[last : match.start()], quote=False))
            out.append(token(match))
            last = match.end()
        out.append(html.escape(text_line[last:], quote=False))
        return "".join(out)

    text = text.replace("\r\n", "\n").strip()
    paragraphs = re.split(r"\n\s*\n", text) if text else []
    body = "".join("<p>" + "<br>".join(line(s) for s in p.split("\n")) + "</p>" for p in paragraphs)
    tags = tuple(mention_tag(a) for a in mentions.values()) + tuple(hashtags.values())
    return FormattedText(body, tuple(mentions.values()), tags)


async def format_post(text: str, resolver: HandleResolver, settings: Settings) -> FormattedText:
    """Resolve the mentions in ``text`` (over the network when needed) and format it."""
    return render_text(text, await resolve_handles(resolver, handles_in(text, settings.domain)), settings)
