"""Remote posts a department likes or boosts before this server has stored them.

The post is fetched by its id (or page URL), signed as the instance actor, and must be attributed to
an actor of its own host. Only the columns a post needs to be counted, addressed and shown are read:
the addressing (and from it the visibility, as Mastodon reads it), the sanitized text, its content
warning, the page URL and the times. Tags, mentions and attachments are not read; an edit of the
post that reaches the inbox later rewrites it whole.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

from actors.documents import AS_PUBLIC
from actors.errors import FetchFailed, InvalidDocument, NotFound, ValidationError
from actors.queries import Actor
from actors.remote import ActorResolver
from actors.remote_documents import has_type, host_of, link_href, object_id
from fedi.html import html_to_text, sanitize_html
from outbox.interaction_queries import FetchedPost

POST_TYPES = frozenset({"Note", "Question", "Article", "Page"})
PUBLIC = frozenset({AS_PUBLIC, "http://www.w3.org/ns/activitystreams#Public", "as:Public", "Public"})
MAX_SUMMARY, MAX_ADDRESSES = 500, 256


def _addresses(value: Any) -> list[str]:
    items = value if isinstance(value, list) else [] if value is None else [value]
    return [uri for uri in (object_id(item) for item in items[:MAX_ADDRESSES]) if uri is not None]


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def read_visibility(to: list[str], cc: list[str], followers_url: str | None) -> str:
    """public, unlisted, private (followers) or direct, from a post's ``to`` and ``cc``."""
    if PUBLIC & set(to):
        return "public"
    if PUBLIC & set(cc):
        return "unlisted"
    return "private" if followers_url and followers_url in to + cc else "direct"


def read_post(document: dict[str, Any], author: Actor) -> FetchedPost:
    """The stored columns of a fetched post whose id and author were checked."""
    to, cc = _addresses(document.get("to")), _addresses(document.get("cc"))
    content = document.get("content")
    if not isinstance(content, str):
        content_map = document.get("contentMap")
        values = content_map.values() if isinstance(content_map, dict) else []
        content = next((v for v in values if isinstance(v, str)), "")
    summary = document.get("summary")
    url = link_href(document.get("url"))
    return FetchedPost(
        uri=str(document["id"]),
        object_type=str(document["type"]),
        url=url if url and urlsplit(url).scheme in ("https", "http") else None,
        in_reply_to_uri=object_id(document.get("inReplyTo")),
        visibility=read_visibility(to, cc, author.followers_url),
        content_html=sanitize_html(content),
        summary=html_to_text(sanitize_html(summary))[:MAX_SUMMARY] if isinstance(summary, str) else "",
        sensitive=document.get("sensitive") is True,
        to_uris=to,
        cc_uris=cc,
        published_at=_time(document.get("published")) or datetime.now(timezone.utc),
        edited_at=_time(document.get("updated")),
    )


async def fetch_post(resolver: ActorResolver, uri: str, action: str) -> tuple[FetchedPost, Actor]:
    """Fetch a remote post and its author; ValidationError (``cannot <action> <uri>: …``) when that fails."""
    try:
        document = await resolver.fetch_document(uri)
        if not has_type(document, POST_TYPES):
            raise InvalidDocument(f"it is a {document.get('type')!r}, not a post")
        author_uri = object_id(document.get("attributedTo"))
        if author_uri is None or host_of(author_uri) != host_of(document["id"]):
            raise InvalidDocument("it names no author on its own host")
        if resolver.is_local(document["id"]):
            raise NotFound(f"no post {uri}")
        author = await resolver.get_actor(author_uri)
    except (FetchFailed, InvalidDocument) as exc:
        raise ValidationError(f"cannot {action} {uri}: {exc}") from exc
    return read_post(document, author), author
