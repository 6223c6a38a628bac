"""ActivityPub documents of local posts and the activities that publish them, shaped as Mastodon's.

A Note carries every property Mastodon's own Notes carry except the OStatus leftovers
(``atomUri``, ``inReplyToAtomUri``, ``conversation``), which no current server needs.
Activity ids: Create ``<note>/activity``, Update ``<note>#updates/<unix time>``, Delete
``<note>#delete``, Accept and Reject ``<actor>#accepts/follows/<token>`` and ``#rejects/...``, where the
token is a digest of the Follow's id (one answer per Follow activity, whatever the follows table holds).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from actors.documents import isoformat
from actors.queries import Actor
from outbox.queries import NoteStats, Post

AS_CONTEXT = "https://www.w3.org/ns/activitystreams"
NOTE_CONTEXT: list[Any] = [
    AS_CONTEXT,
    {"sensitive": "as:sensitive", "Hashtag": "as:Hashtag", "toot": "http://joinmastodon.org/ns#"},
]


def note_ids(actor_uri: str, profile_url: str, post_id: int) -> tuple[str, str]:
    """The id (``<actor>/statuses/<id>``) and page URL (``<profile>/<id>``) of a local post."""
    return f"{actor_uri}/statuses/{post_id}", f"{profile_url}/{post_id}"


def render_replies(post: Post, stats: NoteStats) -> dict[str, Any]:
    """The Note's ``replies`` collection with its first page of reply ids."""
    replies_id = f"{post.uri}/replies"
    first: dict[str, Any] = {"type": "CollectionPage", "partOf": replies_id, "items": list(stats.reply_uris)}
    if stats.next_reply_id is not None:
        first["next"] = f"{replies_id}?page=true&min_id={stats.next_reply_id}"
    return {"id": replies_id, "type": "Collection", "totalItems": stats.replies, "first": first}


def render_replies_page(post: Post, after_id: int, uris: Sequence[str], next_id: int | None) -> dict[str, Any]:
    """A later page of a Note's replies (``?page=true&min_id=<after_id>``)."""
    replies_id = f"{post.uri}/replies"
    page: dict[str, Any] = {
        "@context": AS_CONTEXT,
        "id": f"{replies_id}?page=true&min_id={after_id}",
        "type": "CollectionPage",
        "partOf": replies_id,
        "items": list(uris),
    }
    if next_id is not None:
        page["next"] = f"{replies_id}?page=true&min_id={next_id}"
    return page


def render_attachment(attachment: Mapping[str, Any]) -> dict[str, Any]:
    """A post's attachment as a ``Document`` (mediaType, url, name as alt text, width, height, blurhash when known)."""
    return {"type": "Document"} | {k: v for k, v in attachment.items() if v is not None and k != "type"}


def render_note(post: Post, author: Actor, stats: NoteStats | None = None, *, context: bool = True) -> dict[str, Any]:
    """The Note of a post, with ``@context`` unless it is embedded in another document."""
    stats = stats or NoteStats()
    note: dict[str, Any] = {"@context": NOTE_CONTEXT} if context else {}
    note |= {
        "id": post.uri,
        "type": "Note",
        "summary": post.summary or None,
        "inReplyTo": post.in_reply_to_uri,
        "published": isoformat(post.published_at),
    }
    if post.edited_at is not None:
        note["updated"] = isoformat(post.edited_at)
    note |= {
        "url": post.url or post.uri,
        "attributedTo": author.uri,
        "to": list(post.to_uris),
        "cc": list(post.cc_uris),
        "sensitive": post.sensitive,
        "content": post.content_html,
    }
    if post.language:
        note["contentMap"] = {post.language: post.content_html}
    note |= {
        "attachment": [render_attachment(a) for a in post.attachments],
        "tag": list(post.tags),
        "replies": render_replies(post, stats),
        "likes": {"id": f"{post.uri}/likes", "type": "Collection", "totalItems": stats.likes},
        "shares": {"id": f"{post.uri}/shares", "type": "Collection", "totalItems": stats.boosts},
    }
    return note


def render_note_tombstone(post: Post) -> dict[str, Any]:
    """What a deleted post's id answers (with 410 Gone)."""
    assert post.deleted_at is not None
    return {
        "@context": AS_CONTEXT, "id": post.uri, "type": "Tombstone", "formerType": post.object_type,
        "deleted": isoformat(post.deleted_at),
    }


def _wrap(kind: str, activity_id: str, post: Post, author: Actor, moment: datetime, note: dict[str, Any]) -> dict[str, Any]:
    return {
        "@context": NOTE_CONTEXT, "id": activity_id, "type": kind, "actor": author.uri,
        "published": isoformat(moment), "to": list(post.to_uris), "cc": list(post.cc_uris), "object": note,
    }


def build_create_note(post: Post, author: Actor, stats: NoteStats | None = None) -> dict[str, Any]:
    """The Create that publishes a post."""
    note = render_note(post, author, stats, context=False)
    return _wrap("Create", f"{post.uri}/activity", post, author, post.published_at, note)


def build_update_note(post: Post, author: Actor, stats: NoteStats | None = None) -> dict[str, Any]:
    """The Update that carries an edited post (its ``updated`` set)."""
    assert post.edited_at is not None
    note = render_note(post, author, stats, context=False)
    return _wrap("Update", f"{post.uri}#updates/{int(post.edited_at.timestamp())}", post, author, post.edited_at, note)


def build_delete_note(post: Post, author: Actor) -> dict[str, Any]:
    """The Delete of a post: its object a Tombstone with the post's id."""
    return {
        "@context": NOTE_CONTEXT, "id": f"{post.uri}#delete", "type": "Delete", "actor": author.uri,
        "to": list(post.to_uris), "cc": list(post.cc_uris), "object": {"id": post.uri, "type": "Tombstone"},
    }


def build_add_featured(post: Post, author: Actor, featured_url: str) -> dict[str, Any]:
    """The Add that tells followers a post is pinned to the author's profile."""
    assert post.pinned_at is not None
    moment = int(post.pinned_at.timestamp() * 1_000_000)
    return {
        "@context": AS_CONTEXT, "id": f"{post.uri}#featured/add/{moment}", "type": "Add", "actor": author.uri,
        "object": post.uri, "target": featured_url,
    }


def build_remove_featured(post: Post, author: Actor, featured_url: str, moment: datetime) -> dict[str, Any]:
    """The Remove that tells followers a post is no longer pinned."""
    return {
        "@context": AS_CONTEXT, "id": f"{post.uri}#featured/remove/{int(moment.timestamp() * 1_000_000)}",
        "type": "Remove", "actor": author.uri, "object": post.uri, "target": featured_url,
    }


def follow_object(followee: Actor, follow: Mapping[str, Any] | str, follower_uri: str | None = None) -> dict[str, Any]:
    """The Follow an Accept or Reject answers: as received when given, else rebuilt from its id."""
    if not isinstance(follow, str):
        return {k: v for k, v in follow.items() if k not in ("@context", "signature")}
    if follower_uri is None:
        raise ValueError("a Follow given by id needs the follower's id")
    return {"id": follow, "type": "Follow", "actor": follower_uri, "object": followee.uri}


def _answer(kind: str, fragment: str, followee: Actor, follow: Mapping[str, Any] | str, follower_uri: str | None) -> dict[str, Any]:
    obj = follow_object(followee, follow, follower_uri)
    token = hashlib.sha256(str(obj.get("id", "")).encode()).hexdigest()[:16]
    return {
        "@context": AS_CONTEXT, "id": f"{followee.uri}#{fragment}/follows/{token}", "type": kind,
        "actor": followee.uri, "object": obj,
    }


def build_accept_follow(followee: Actor, follow: Mapping[str, Any] | str, follower_uri: str | None = None) -> dict[str, Any]:
    """The Accept of a Follow (given as received, or by id with ``follower_uri``)."""
    return _answer("Accept", "accepts", followee, follow, follower_uri)


def build_reject_follow(followee: Actor, follow: Mapping[str, Any] | str, follower_uri: str | None = None) -> dict[str, Any]:
    """The Reject of a Follow (given as received, or by id with ``follower_uri``)."""
    return _answer("Reject", "rejects", followee, follow, follower_uri)


def like_id(actor_uri: str, interaction_id: int) -> str:
    """A Like's id: ``<actor>#likes/<interaction id>``, as Mastodon writes it (a new one for every like)."""
    return f"{actor_uri}#likes/{interaction_id}"


def announce_id(actor_uri: str, interaction_id: int) -> str:
    """An Announce's id: ``<actor>#announces/<interaction id>`` (a new one for every boost)."""
    return f"{actor_uri}#announces/{interaction_id}"


def build_like(activity_id: str, actor: Actor, post_uri: str) -> dict[str, Any]:
    """The Like of a post (local or remote) by a local actor."""
    return {"@context": AS_CONTEXT, "id": activity_id, "type": "Like", "actor": actor.uri, "object": post_uri}


def build_announce(
    activity_id: str, actor: Actor, post_uri: str, to: Sequence[str], cc: Sequence[str], published: datetime
) -> dict[str, Any]:
    """The Announce (boost) of a post, addressed as a public post of the booster that mentions the author."""
    return {
        "@context": AS_CONTEXT, "id": activity_id, "type": "Announce", "actor": actor.uri,
        "published": isoformat(published), "to": list(to), "cc": list(cc), "object": post_uri,
    }


def build_undo(activity: Mapping[str, Any]) -> dict[str, Any]:
    """The Undo of a Like or Announce: id ``<activity>/undo``, the activity embedded, its addressing kept."""
    inner = {k: v for k, v in activity.items() if k != "@context"}
    undo: dict[str, Any] = {"@context": AS_CONTEXT, "id": f"{activity['id']}/undo", "type": "Undo", "actor": activity["actor"]}
    undo |= {k: activity[k] for k in ("to", "cc") if k in activity}
    return undo | {"object": inner}
