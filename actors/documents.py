"""ActivityPub documents of local actors: departments (``Organization``) and the instance actor."""

from __future__ import annotations

import mimetypes
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

from actors.queries import LocalActor
from actors.urls import ActorUrls
from fedi.text import linkify
from keys.queries import KeyRecord

AS_PUBLIC = "https://www.w3.org/ns/activitystreams#Public"
ACTOR_CONTEXT: list[Any] = [
    "https://www.w3.org/ns/activitystreams",
    "https://w3id.org/security/v1",
    {
        "manuallyApprovesFollowers": "as:manuallyApprovesFollowers",
        "toot": "http://joinmastodon.org/ns#",
        "featured": {"@id": "toot:featured", "@type": "@id"},
        "discoverable": "toot:discoverable",
        "indexable": "toot:indexable",
        "schema": "http://schema.org#",
        "PropertyValue": "schema:PropertyValue",
        "value": "schema:value",
    },
]


def isoformat(moment: datetime) -> str:
    """An RFC 3339 timestamp in UTC with a Z, as fediverse servers write them."""
    return moment.astimezone(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def render_image(url: str) -> dict[str, str]:
    """An ``Image`` object with the media type guessed from the URL's path."""
    image = {"type": "Image", "url": url}
    media_type, _ = mimetypes.guess_type(urlsplit(url).path)
    if media_type and media_type.startswith("image/"):
        image["mediaType"] = media_type
    return image


def render_public_key(actor_uri: str, key: KeyRecord) -> dict[str, str]:
    """The ``publicKey`` block: id, owner and the SubjectPublicKeyInfo PEM."""
    return {"id": key.key_id, "owner": actor_uri, "publicKeyPem": key.public_key_pem}


def render_department(department: LocalActor, urls: ActorUrls, key: KeyRecord) -> dict[str, Any]:
    """The department's actor document, with every property Mastodon reads."""
    document: dict[str, Any] = {
        "@context": ACTOR_CONTEXT,
        "id": urls.id,
        "type": department.actor_type,
        "following": urls.following,
        "followers": urls.followers,
        "inbox": urls.inbox,
        "outbox": urls.outbox,
        "featured": urls.featured,
        "preferredUsername": department.username,
        "name": department.display_name or department.username,
        "summary": department.summary_html,
        "url": urls.profile,
        "manuallyApprovesFollowers": department.manually_approves_followers,
        "discoverable": department.discoverable,
        "indexable": department.discoverable,
        "published": isoformat(department.created_at),
        "publicKey": render_public_key(urls.id, key),
        "attachment": [
            {"type": "PropertyValue", "name": f["name"], "value": linkify(f["value"])} for f in department.fields
        ],
        "endpoints": {"sharedInbox": urls.shared_inbox},
    }
    if department.avatar_url:
        document["icon"] = render_image(department.avatar_url)
    if department.header_url:
        document["image"] = render_image(department.header_url)
    return document


def render_instance_actor(actor: LocalActor, urls: ActorUrls, key: KeyRecord) -> dict[str, Any]:
    """The instance actor: an ``Application`` that signs the server's own fetches."""
    return {
        "@context": ACTOR_CONTEXT,
        "id": urls.id,
        "type": actor.actor_type,
        "inbox": urls.inbox,
        "outbox": urls.outbox,
        "preferredUsername": actor.username,
        "url": urls.profile,
        "manuallyApprovesFollowers": True,
        "publicKey": render_public_key(urls.id, key),
        "endpoints": {"sharedInbox": urls.shared_inbox},
    }


def render_tombstone(actor: LocalActor) -> dict[str, Any]:
    """What a deleted department's URL answers (with 410 Gone)."""
    assert actor.deleted_at is not None
    return {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": actor.uri,
        "type": "Tombstone",
        "formerType": actor.actor_type,
        "deleted": isoformat(actor.deleted_at),
    }
