"""Builders: our Notes and activities carry every key of the captured Mastodon payloads that applies."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from actors.documents import AS_PUBLIC
from actors.queries import Actor
from outbox.builders import (
    build_accept_follow, build_add_featured, build_create_note, build_delete_note, build_reject_follow,
    build_remove_featured, build_update_note, render_note, render_note_tombstone,
)
from outbox.queries import NoteStats, Post

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "activitypub"
# OStatus leftovers Mastodon still writes and no current server reads.
OSTATUS = {"atomUri", "inReplyToAtomUri", "conversation"}
MOMENT = datetime(2026, 11, 24, 9, 30, 15, 123456, tzinfo=timezone.utc)
NOTE = "https://city.example/users/library/statuses/7"


def fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text())


def department() -> Actor:
    return Actor(
        id=1, uri="https://city.example/users/library", actor_type="Organization", username="library",
        domain="city.example", display_name="Library", summary="", summary_html="", area="", avatar_url=None,
        header_url=None, fields=[], manually_approves_followers=False, discoverable=True, created_at=MOMENT,
        updated_at=MOMENT, deleted_at=None,
    )


def post(**changes: Any) -> Post:
    values: dict[str, Any] = dict(
        id=7, uri=NOTE, local=True, author_id=1, staff_id=None, object_type="Note",
        url="https://city.example/@library/7", in_reply_to_uri=None, in_reply_to_id=None, visibility="public",
        source="Open late #today", content_html="<p>Open late</p>", summary="", sensitive=False, language=None,
        to_uris=[AS_PUBLIC], cc_uris=["https://city.example/users/library/followers"], tags=[], attachments=[],
        published_at=MOMENT, edited_at=None, deleted_at=None, pinned_at=None, created_at=MOMENT,
    )
    return Post(**(values | changes))


def test_note_has_every_key_of_mastodons() -> None:
    note = render_note(post(language="en"), department())
    theirs = set(fixture("mastodon-note.json")) | set(fixture("mastodon-create-note.json")["object"])
    theirs |= set(fixture("mastodon-create-note-contentmap.json")["object"])
    assert theirs - OSTATUS - set(note) == set()
    assert note["@context"][0] == "https://www.w3.org/ns/activitystreams"
    assert {k: note[k] for k in ("id", "type", "url", "attributedTo", "published", "summary", "inReplyTo", "sensitive")} == {
        "id": NOTE, "type": "Note", "url": "https://city.example/@library/7",
        "attributedTo": "https://city.example/users/library", "published": "2026-11-24T09:30:15Z", "summary": None,
        "inReplyTo": None, "sensitive": False,
    }
    assert note["contentMap"] == {"en": "<p>Open late</p>"} and note["content"] == "<p>Open late</p>"
    assert "updated" not in note and note["attachment"] == [] and note["tag"] == []


def test_note_without_language_edited_with_warning_and_replies() -> None:
    edited = post(edited_at=MOMENT.replace(hour=10), summary="Works", sensitive=True, in_reply_to_uri="https://r.example/s/1")
    stats = NoteStats(replies=41, likes=3, boosts=2, reply_uris=("https://r.example/s/2",), next_reply_id=99)
    note = render_note(edited, department(), stats, context=False)
    assert "@context" not in note and "contentMap" not in note
    assert (note["updated"], note["summary"], note["sensitive"], note["inReplyTo"]) == (
        "2026-11-24T10:30:15Z", "Works", True, "https://r.example/s/1",
    )
    assert note["replies"] == {
        "id": f"{NOTE}/replies", "type": "Collection", "totalItems": 41,
        "first": {
            "type": "CollectionPage", "partOf": f"{NOTE}/replies", "items": ["https://r.example/s/2"],
            "next": f"{NOTE}/replies?page=true&min_id=99",
        },
    }
    assert note["likes"] == {"id": f"{NOTE}/likes", "type": "Collection", "totalItems": 3}
    assert note["shares"] == {"id": f"{NOTE}/shares", "type": "Collection", "totalItems": 2}


def test_create_update_delete() -> None:
    mastodon_create = fixture("mastodon-create-note.json")
    create = build_create_note(post(), department())
    assert set(mastodon_create) - {"signature"} - set(create) == set()
    assert (create["id"], create["type"], create["actor"]) == (f"{NOTE}/activity", "Create", department().uri)
    assert (create["to"], create["cc"]) == (create["object"]["to"], create["object"]["cc"])
    assert create["object"]["id"] == NOTE and "@context" not in create["object"]

    update = build_update_note(post(edited_at=MOMENT), department())
    assert update["id"] == f"{NOTE}#updates/{int(MOMENT.timestamp())}" and update["type"] == "Update"
    assert update["object"]["updated"] == "2026-11-24T09:30:15Z"
    with pytest.raises(AssertionError):
        build_update_note(post(), department())

    mastodon_delete = fixture("mastodon-delete-note.json")
    delete = build_delete_note(post(deleted_at=MOMENT), department())
    assert set(mastodon_delete) - {"signature"} - set(delete) == set()
    assert delete["id"] == f"{NOTE}#delete" and delete["object"] == {"id": NOTE, "type": "Tombstone"}
    assert render_note_tombstone(post(deleted_at=MOMENT)) == {
        "@context": "https://www.w3.org/ns/activitystreams", "id": NOTE, "type": "Tombstone", "formerType": "Note",
        "deleted": "2026-11-24T09:30:15Z",
    }


def test_pin_and_unpin() -> None:
    featured = "https://city.example/users/library/collections/featured"
    add = build_add_featured(post(pinned_at=MOMENT), department(), featured)
    remove = build_remove_featured(post(), department(), featured, MOMENT.replace(second=16))
    assert (add["type"], add["object"], add["target"]) == ("Add", NOTE, featured)
    assert (remove["type"], remove["object"], remove["target"]) == ("Remove", NOTE, featured)
    assert add["id"].startswith(f"{NOTE}#") and remove["id"].startswith(f"{NOTE}#") and add["id"] != remove["id"]


def test_accept_and_reject_follow() -> None:
    library = department()
    follow = fixture("mastodon-follow.json") | {"object": library.uri}
    accept = build_accept_follow(library, follow)
    mastodon_accept = fixture("mastodon-accept.json")
    assert set(mastodon_accept) - {"signature", "nickname"} - set(accept) == set()
    assert accept["object"] == {k: v for k, v in follow.items() if k not in ("@context", "signature")}
    assert accept["id"].startswith(f"{library.uri}#accepts/follows/") and accept["actor"] == library.uri

    reject = build_reject_follow(library, "https://m.example/users/admin#follows/2", "https://m.example/users/admin")
    assert reject["id"].startswith(f"{library.uri}#rejects/follows/") and reject["type"] == "Reject"
    assert reject["object"] == {
        "id": "https://m.example/users/admin#follows/2", "type": "Follow", "actor": "https://m.example/users/admin",
        "object": library.uri,
    }
    # one answer per Follow: the same Follow gets the same id, another Follow another
    again = build_reject_follow(library, "https://m.example/users/admin#follows/2", "https://m.example/users/admin")
    other = build_reject_follow(library, "https://m.example/users/admin#follows/3", "https://m.example/users/admin")
    assert again["id"] == reject["id"] != other["id"]
    with pytest.raises(ValueError):
        build_accept_follow(library, "https://m.example/users/admin#follows/2")


def test_notes_round_trip_through_json() -> None:
    note = render_note(replace(post(), tags=[{"type": "Hashtag", "href": "https://city.example/tags/today", "name": "#today"}]), department())
    assert json.loads(json.dumps(note)) == note
