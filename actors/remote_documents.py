"""Reading remote actor documents as Mastodon, Pleroma, Misskey, GoToSocial, Lemmy… publish them."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from actors.errors import InvalidDocument
from fedi.html import sanitize_html

ACTOR_TYPES = frozenset({"Person", "Service", "Organization", "Group", "Application"})
MAX_FIELDS = 16


@dataclass(frozen=True)
class RemoteKey:
    """A public key named by an actor document."""

    key_id: str
    owner: str
    pem: str


@dataclass(frozen=True)
class RemoteActorData:
    """The parts of a remote actor document fedi stores."""

    uri: str
    actor_type: str
    username: str
    domain: str
    display_name: str
    summary_html: str
    avatar_url: str | None
    header_url: str | None
    fields: list[dict[str, str]]
    manually_approves_followers: bool
    discoverable: bool
    inbox_url: str
    shared_inbox_url: str | None
    outbox_url: str | None
    followers_url: str | None
    following_url: str | None
    featured_url: str | None
    url: str | None
    keys: tuple[RemoteKey, ...]
    document: dict[str, Any]


def host_of(url: str) -> str:
    """The host (with port, lower case) of a URL; empty when it has none or does not parse."""
    try:
        return urlsplit(url).netloc.lower()
    except ValueError:  # e.g. an unclosed IPv6 bracket: "https://[::1/x"
        return ""


def has_type(document: dict[str, Any], kinds: Collection[str]) -> bool:
    """Whether the document's ``type`` (a string, or a list of them as JSON-LD allows) is one of ``kinds``."""
    value = document.get("type")
    names = value if isinstance(value, list) else [value]
    return any(isinstance(name, str) and name in kinds for name in names)


def first(value: Any) -> Any:
    """The first item of a list, or the value itself."""
    if isinstance(value, list):
        return value[0] if value else None
    return value


def link_href(value: Any) -> str | None:
    """A URL given as a string, a Link/Image object with ``href``/``url``, or a list of those."""
    value = first(value)
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return link_href(value.get("href") or value.get("url"))
    return None


def object_id(value: Any) -> str | None:
    """The id of an object given inline or by reference."""
    value = first(value)
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("id"), str):
        return value["id"]
    return None


def _same_host_url(value: Any, host: str) -> str | None:
    url = link_href(value)
    return url if url and host_of(url) == host and urlsplit(url).scheme in ("https", "http") else None


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def parse_keys(document: dict[str, Any], uri: str) -> tuple[RemoteKey, ...]:
    """The actor's keys whose owner is the actor itself (others are ignored)."""
    raw = document.get("publicKey")
    keys = []
    for item in raw if isinstance(raw, list) else [raw]:
        if not isinstance(item, dict):
            continue
        key_id, pem, owner = item.get("id"), item.get("publicKeyPem"), item.get("owner", uri)
        if isinstance(key_id, str) and isinstance(pem, str) and owner == uri:
            keys.append(RemoteKey(key_id, uri, pem))
    return tuple(keys)


def parse_actor(document: Any) -> RemoteActorData:
    """Validate an actor document; every URL it names for us to use must be on the actor's own host."""
    if not isinstance(document, dict):
        raise InvalidDocument("actor document is not a JSON object")
    uri = document.get("id")
    actor_type = first(document.get("type"))
    if not isinstance(uri, str) or urlsplit(uri).scheme not in ("https", "http") or not host_of(uri):
        raise InvalidDocument("actor document has no valid id")
    if actor_type not in ACTOR_TYPES:
        raise InvalidDocument(f"{uri} is a {actor_type!r}, not an actor")
    host = host_of(uri)
    inbox = _same_host_url(document.get("inbox"), host)
    if inbox is None:
        raise InvalidDocument(f"actor {uri} has no inbox on its own host")
    endpoints = document.get("endpoints") if isinstance(document.get("endpoints"), dict) else {}
    fields = []
    for item in document.get("attachment") or []:
        if isinstance(item, dict) and item.get("type") == "PropertyValue" and len(fields) < MAX_FIELDS:
            fields.append({"name": _text(item.get("name"))[:255], "value": sanitize_html(_text(item.get("value")))[:2047]})
    return RemoteActorData(
        uri=uri,
        actor_type=actor_type,
        username=_text(document.get("preferredUsername"))[:255],
        domain=host,
        display_name=_text(document.get("name"))[:255],
        summary_html=sanitize_html(_text(document.get("summary")))[:20000],
        avatar_url=link_href(document.get("icon")),
        header_url=link_href(document.get("image")),
        fields=fields,
        manually_approves_followers=document.get("manuallyApprovesFollowers") is True,
        discoverable=document.get("discoverable") is not False,
        inbox_url=inbox,
        shared_inbox_url=_same_host_url(endpoints.get("sharedInbox"), host),
        outbox_url=_same_host_url(document.get("outbox"), host),
        followers_url=_same_host_url(document.get("followers"), host),
        following_url=_same_host_url(document.get("following"), host),
        featured_url=_same_host_url(document.get("featured"), host),
        url=link_href(document.get("url")),
        keys=parse_keys(document, uri),
        document=document,
    )
