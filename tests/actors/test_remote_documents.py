"""Actor documents as real servers publish them, read into what fedi stores."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from actors.errors import InvalidDocument
from actors.remote_documents import parse_actor

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "activitypub"


def fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text())


@pytest.mark.parametrize(
    ("name", "actor_type", "shared_inbox"),
    [
        ("mastodon-actor-person", "Person", "http://mastodon.example.org/inbox"),
        ("misskey-actor", "Person", "https://misskey.io/inbox"),
        ("peertube-actor", "Person", "https://peertube.stream/inbox"),
        ("guppe-actor-group", "Group", None),
        ("hubzilla-actor", "Person", "https://hub.somaton.com/inbox"),
        ("lemmy-actor", "Person", "https://enterprise.lemmy.ml/inbox"),
    ],
)
def test_real_actor_documents(name: str, actor_type: str, shared_inbox: str | None) -> None:
    document = fixture(name)
    data = parse_actor(document)
    assert data.uri == document["id"] and data.actor_type == actor_type
    assert data.inbox_url == document["inbox"]
    assert data.shared_inbox_url == shared_inbox
    assert data.username == document["preferredUsername"]
    assert [k.key_id for k in data.keys] == [document["publicKey"]["id"]]
    assert data.keys[0].pem.startswith("-----BEGIN PUBLIC KEY-----")
    if "icon" in document:
        assert data.avatar_url and data.avatar_url.startswith("http")


def test_mastodon_profile_fields_are_sanitized() -> None:
    document = fixture("mastodon-actor-person")
    document["summary"] = '<p>Hi<script>alert(1)</script><a href="javascript:x" onclick="y">z</a></p>'
    document["attachment"] = [
        {"type": "PropertyValue", "name": "Web", "value": '<a href="https://a.example" rel="me">a.example</a><img src=x onerror=alert(1)>'},
        {"type": "IdentityProof", "name": "ignored"},
    ]
    data = parse_actor(document)
    assert "script" not in data.summary_html and "javascript" not in data.summary_html and "onclick" not in data.summary_html
    assert data.fields == [{"name": "Web", "value": '<a href="https://a.example" rel="nofollow noopener noreferrer">a.example</a>'}]


def test_urls_on_other_hosts_are_not_taken() -> None:
    document = fixture("mastodon-actor-person")
    document["endpoints"]["sharedInbox"] = "https://victim.example/inbox"
    document["followers"] = "https://victim.example/followers"
    data = parse_actor(document)
    assert data.shared_inbox_url is None and data.followers_url is None


def test_keys_owned_by_someone_else_are_ignored() -> None:
    document = fixture("mastodon-actor-person")
    document["publicKey"]["owner"] = "https://other.example/users/x"
    assert parse_actor(document).keys == ()


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d.pop("id"),
        lambda d: d.update(id="ftp://mastodon.example.org/users/admin"),
        lambda d: d.update(type="Note"),
        lambda d: d.pop("inbox"),
        lambda d: d.update(inbox="https://elsewhere.example/inbox"),
    ],
)
def test_invalid_documents_are_refused(change: Any) -> None:
    document = copy.deepcopy(fixture("mastodon-actor-person"))
    change(document)
    with pytest.raises(InvalidDocument):
        parse_actor(document)
