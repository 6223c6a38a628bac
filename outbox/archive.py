"""A department's data as an ActivityPub archive (``fedi admin export``), in the spirit of Mastodon's.

The archive is a ``.zip`` (or ``.tar.gz``) of JSON documents and media files:

- ``manifest.json``: format name and version, domain, department, ``exported_at``, counts.
- ``actor.json``: the actor document as served (public key included; private keys are never exported).
- ``profile.json``: the department's editable properties as stored (the plain text behind ``actor.json``).
- ``outbox.json``: an ``OrderedCollection`` of the ``Create`` activities of every post, all visibilities,
  oldest first, with the Notes as ``outbox.builders`` renders them (an edit's current state and its
  ``updated``, attachments' metadata) plus ``source`` (the text as written). A deleted post is kept as
  a ``Create`` of a ``Tombstone`` (id, url, published, deleted; its text is not exported) so that its
  id stays taken and keeps answering 410 Gone after a restore.
- ``featured.json``: the pinned posts as ``Add`` activities, each with the time it was pinned.
- ``followers.json`` / ``following.json``: accepted ``Follow`` activities, the remote actor embedded
  as its stored document (inbox and shared inbox included, so a restored server can deliver).
- ``replies.json``: the citizens' posts in the department's threads, as Notes with their original ids
  and ``attributedTo``, each with ``received`` (when this server stored it) and ``order`` (its place
  among the posts, so threads keep their order); ``actors.json``: the documents of their authors and
  of the actors the posts mention.
- ``likes.json``: the department's ``Like`` activities, each liked Note embedded.
- ``media.json`` and ``media/<file>``: the uploads the live posts use, with their metadata.

Times are written with their full precision (RFC 3339 with fractions of a second). Counts of likes and
boosts received from other servers, pending follow requests, boosts and staff attribution are not
part of the archive.
"""

from __future__ import annotations

import io
import json
import re
import tarfile
import time
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import asyncpg

from actors.documents import render_department
from actors.errors import ValidationError
from actors.queries import Actor
from actors.urls import department_urls
from fedi.settings import Settings
from keys.keypairs import KeyVault
from keys.store import ensure_active_key
from outbox import archive_queries, queries
from outbox.archive_queries import ArchivedFollow
from outbox.builders import AS_CONTEXT, NOTE_CONTEXT, build_add_featured, build_create_note, build_like
from outbox.queries import Post

FORMAT = "fedi-archive"
VERSION = 1
MEDIA_PREFIX = "media/"
MEDIA_NAME_RE = re.compile(r"^[0-9a-f]{32}\.(png|jpg|gif|webp)$")
MEDIA_TYPES = {"png": "image/png", "jpg": "image/jpeg", "gif": "image/gif", "webp": "image/webp"}
DOCUMENTS = (
    "manifest.json", "actor.json", "profile.json", "outbox.json", "featured.json", "followers.json",
    "following.json", "replies.json", "actors.json", "likes.json", "media.json",
)


class ArchiveError(ValidationError):
    """An archive that cannot be written or restored; the message says why."""


@dataclass(frozen=True)
class Archive:
    """An archive's members (name -> bytes) and what it holds."""

    members: dict[str, bytes]
    counts: dict[str, int]


def precise(moment: datetime) -> str:
    """An RFC 3339 time in UTC keeping fractions of a second."""
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def _collection(collection_id: str, items: list[Any], context: Any = AS_CONTEXT) -> dict[str, Any]:
    return {"@context": context, "id": collection_id, "type": "OrderedCollection", "totalItems": len(items), "orderedItems": items}


def _json(document: Any) -> bytes:
    return json.dumps(document, ensure_ascii=False, indent=2).encode()


def _create(post: Post, department: Actor, stats: queries.NoteStats | None) -> dict[str, Any]:
    """The Create of a post (or of its Tombstone once deleted), times kept precisely."""
    if post.deleted_at is not None:
        tombstone = {
            "id": post.uri, "type": "Tombstone", "formerType": post.object_type, "url": post.url or post.uri,
            "published": precise(post.published_at), "deleted": precise(post.deleted_at),
        }
        return {
            "id": f"{post.uri}/activity", "type": "Create", "actor": department.uri, "published": precise(post.published_at),
            "to": list(post.to_uris), "cc": list(post.cc_uris), "object": tombstone,
        }
    activity = build_create_note(post, department, stats)
    del activity["@context"]
    note = activity["object"]
    activity["published"] = note["published"] = precise(post.published_at)
    if post.edited_at is not None:
        note["updated"] = precise(post.edited_at)
    if post.source is not None:
        note["source"] = {"content": post.source, "mediaType": "text/plain"}
    return activity


def remote_note(post: Post, author_uri: str) -> dict[str, Any]:
    """A stored remote post as a Note (what this server keeps of it), with when it arrived."""
    note: dict[str, Any] = {
        "id": post.uri, "type": post.object_type, "attributedTo": author_uri, "inReplyTo": post.in_reply_to_uri,
        "published": precise(post.published_at), "url": post.url, "to": list(post.to_uris), "cc": list(post.cc_uris),
        "summary": post.summary or None, "sensitive": post.sensitive, "content": post.content_html,
        "attachment": list(post.attachments), "tag": list(post.tags), "received": precise(post.created_at),
        "order": post.id,
    }
    if post.edited_at is not None:
        note["updated"] = precise(post.edited_at)
    if post.language:
        note["contentMap"] = {post.language: post.content_html}
    return note


def actor_document(actor: Actor, document: Mapping[str, Any] | None) -> dict[str, Any]:
    """A remote actor as fetched, or rebuilt from the stored columns when the document was not kept."""
    if document is not None:
        return dict(document)
    rebuilt: dict[str, Any] = {
        "id": actor.uri, "type": actor.actor_type, "preferredUsername": actor.username, "name": actor.display_name,
        "summary": actor.summary_html, "inbox": actor.inbox_url, "outbox": actor.outbox_url,
        "followers": actor.followers_url, "following": actor.following_url, "featured": actor.featured_url,
        "url": actor.url, "manuallyApprovesFollowers": actor.manually_approves_followers,
        "discoverable": actor.discoverable,
    }
    if actor.shared_inbox_url:
        rebuilt["endpoints"] = {"sharedInbox": actor.shared_inbox_url}
    return {k: v for k, v in rebuilt.items() if v is not None}


def _follow(follow: ArchivedFollow, department: Actor, *, follower: bool) -> dict[str, Any]:
    other = actor_document(follow.other, follow.document)
    return {
        "id": follow.uri, "type": "Follow", "actor": other if follower else department.uri,
        "object": department.uri if follower else other, "published": precise(follow.created_at),
        "accepted": precise(follow.accepted_at or follow.created_at),
    }


def _profile(department: Actor) -> dict[str, Any]:
    return {
        "username": department.username, "display_name": department.display_name, "summary": department.summary,
        "area": department.area, "avatar_url": department.avatar_url, "header_url": department.header_url,
        "fields": list(department.fields), "manually_approves_followers": department.manually_approves_followers,
        "discoverable": department.discoverable, "created_at": precise(department.created_at),
        "updated_at": precise(department.updated_at),
    }


def _media_file(post: Post, base_url: str) -> list[str]:
    """The names of this server's uploads among a post's attachments."""
    names = []
    for attachment in post.attachments:
        url = attachment.get("url")
        name = url.removeprefix(f"{base_url}/media/") if isinstance(url, str) else ""
        if isinstance(url, str) and url.startswith(f"{base_url}/media/") and MEDIA_NAME_RE.match(name):
            names.append(name)
    return names


async def build_archive(
    conn: asyncpg.Connection, settings: Settings, vault: KeyVault, department: Actor, media_dir: Path
) -> Archive:
    """Everything of ``department`` as archive members (read in one repeatable-read snapshot by the caller)."""
    urls = department_urls(settings.base_url, department.username)
    key = await ensure_active_key(conn, vault, department.id, department.uri)
    posts = await archive_queries.department_posts(conn, department.id)
    stats = await queries.note_stats(conn, [p.id for p in posts])
    replies = await archive_queries.thread_replies(conn, department.id)
    followers = await archive_queries.accepted_follows(conn, department.id, followers=True)
    following = await archive_queries.accepted_follows(conn, department.id, followers=False)
    likes = await archive_queries.department_likes(conn, department.id)
    liked_remote = [like.post for like in likes if not like.post.local]
    live = [p for p in posts if p.deleted_at is None]
    mentioned = await archive_queries.mentioned_actor_ids(conn, [p.id for p in live + replies])
    authors = {p.author_id for p in replies + liked_remote} | set(mentioned)
    actors = await archive_queries.actors_by_ids(conn, sorted(authors))
    uri_of = {actor.id: actor.uri for actor, _ in actors} | {department.id: department.uri}
    remote_actors = [actor_document(a, d) for a, d in actors if not a.local]

    members: dict[str, bytes] = {}
    media_rows = await archive_queries.post_media(conn, [p.id for p in live])
    named = {name for p in live for name in _media_file(p, settings.base_url)}
    media = []
    missing = 0
    for row in media_rows:
        if row.file_name not in named:
            continue
        path = media_dir / row.file_name
        if not path.is_file():
            missing += 1
            continue
        members[MEDIA_PREFIX + row.file_name] = path.read_bytes()
        media.append({
            "file": MEDIA_PREFIX + row.file_name, "post": row.post_uri, "position": row.position,
            "mediaType": row.content_type, "size": row.size, "width": row.width, "height": row.height,
            "name": row.description, "focalPoint": None if row.focus_x is None else [row.focus_x, row.focus_y],
            "blurhash": row.blurhash, "published": precise(row.created_at),
        })

    pinned = sorted((p for p in live if p.pinned_at is not None), key=lambda p: (p.pinned_at, p.id), reverse=True)
    featured = []
    for post in pinned:
        assert post.pinned_at is not None
        add = build_add_featured(post, department, urls.featured)
        del add["@context"]
        featured.append(add | {"published": precise(post.pinned_at)})
    like_items = []
    for like in likes:
        activity = build_like(like.uri, department, like.post.uri)
        del activity["@context"]
        liked = like.post.uri if like.post.local else remote_note(like.post, uri_of.get(like.post.author_id, ""))
        like_items.append(activity | {"object": liked, "published": precise(like.created_at)})

    counts = {
        "posts": len(live), "deleted_posts": len(posts) - len(live), "pinned": len(featured),
        "followers": len(followers), "following": len(following), "replies": len(replies), "likes": len(likes),
        "media": len(media), "media_missing": missing,
    }
    documents: dict[str, Any] = {
        "manifest.json": {
            "format": FORMAT, "version": VERSION, "domain": settings.domain, "department": department.username,
            "exported_at": precise(datetime.now(timezone.utc)), "counts": counts,
        },
        "actor.json": render_department(department, urls, key),
        "profile.json": _profile(department),
        "outbox.json": _collection(urls.outbox, [_create(p, department, stats.get(p.id)) for p in posts], NOTE_CONTEXT),
        "featured.json": _collection(urls.featured, featured),
        "followers.json": _collection(urls.followers, [_follow(f, department, follower=True) for f in followers]),
        "following.json": _collection(urls.following, [_follow(f, department, follower=False) for f in following]),
        "replies.json": _collection(
            f"{urls.id}#archive/replies", [remote_note(p, uri_of.get(p.author_id, "")) for p in replies], NOTE_CONTEXT
        ),
        "actors.json": _collection(f"{urls.id}#archive/actors", remote_actors),
        "likes.json": _collection(f"{urls.id}#archive/likes", like_items, NOTE_CONTEXT),
        "media.json": _collection(f"{urls.id}#archive/media", media),
    }
    members.update({name: _json(documents[name]) for name in DOCUMENTS})
    return Archive(members, counts)


def archive_kind(path: Path) -> str:
    """``zip`` or ``tar.gz``, told by the file name."""
    name = path.name.lower()
    if name.endswith(".zip"):
        return "zip"
    if name.endswith((".tar.gz", ".tgz")):
        return "tar.gz"
    raise ArchiveError(f"{path}: the archive's name must end in .zip or .tar.gz")


def archive_bytes(members: Mapping[str, bytes], kind: str) -> bytes:
    """The members packed as a zip or a gzipped tar, JSON documents first."""
    buffer = io.BytesIO()
    if kind == "zip":
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, data in members.items():
                archive.writestr(name, data)
    else:
        with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
            for name, data in members.items():
                info = tarfile.TarInfo(name)
                info.size, info.mtime, info.mode = len(data), int(time.time()), 0o644
                archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def write_archive(path: Path, archive: Archive) -> None:
    """Write the archive whole or not at all (under a temporary name, then renamed); never over another file."""
    kind = archive_kind(path)
    if path.exists():
        raise ArchiveError(f"{path} already exists; choose another --output")
    ordered = {name: archive.members[name] for name in DOCUMENTS} | archive.members
    partial = path.with_name(f".{path.name}.partial")
    try:
        partial.write_bytes(archive_bytes(ordered, kind))
        partial.replace(path)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise ArchiveError(f"cannot write {path}: {exc.strerror or exc}") from exc
