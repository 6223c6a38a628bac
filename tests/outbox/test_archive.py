"""A department's archive: what it holds, and restoring it into an empty database (whole, once, or not at all)."""

from __future__ import annotations

import io
import json
import struct
import zipfile
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import asyncpg
import pytest

from actors.follow_queries import upsert_follow
from actors.queries import LocalActor
from api.statuses import media_queries
from api.statuses.media import media_dir
from api.statuses.media_queries import NewMedia
from api.statuses.publishing import documents
from fedi.database import connect
from fedi.settings import Settings, load_settings
from fedi.worker import Worker
from inbox.processing import InboxTask
from keys.keypairs import KeyVault
from outbox.archive import ArchiveError, archive_bytes, build_archive
from outbox.archive_import import restore_archive
from outbox.archive_reading import check_archive, read_archive
from outbox.posts import delete_post, edit_post, pin_post, publish_post
from outbox.queries import Post
from tests.conftest import TEST_SECRET
from tests.factories import citizen, make_department
from tests.peers import PUBLIC, RemotePeer
from tests.servers import RunningInstance

# Tables an import writes to: after a refused import, each holds what it held before.
TABLES = ("actors", "keys", "posts", "post_mentions", "follows", "interactions", "media_attachments", "follow_events")


def png(width: int, height: int) -> bytes:
    """A small, valid PNG image (grey pixels)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


@dataclass(frozen=True)
class Seeded:
    """The department and the posts the scenario made."""

    department: LocalActor
    first: Post
    unlisted: Post
    answer: Post
    edited: Post
    with_image: Post
    deleted: Post
    image_name: str
    image: bytes
    citizen_reply_uri: str


async def seed_department(
    conn: asyncpg.Connection, settings: Settings, vault: KeyVault, instance: RunningInstance, peer: RemotePeer,
    http: aiohttp.ClientSession,
) -> Seeded:
    """A department with every kind of post, remote followers and a citizen's reply received through the inbox."""
    resolver = instance.services.resolver
    library = await make_department(
        conn, settings, vault, "library", display_name="City Library", area="Culture",
        summary="Books, reading rooms and events.", fields=[{"name": "Hours", "value": "Mon-Fri 9-17"}],
    )
    first = await publish_post(conn, resolver, settings, library, "The central library opens at 9 today: https://library.city.example/hours #books")
    unlisted = await publish_post(conn, resolver, settings, library, "A quiet note for regulars.", visibility="unlisted")
    answer = await publish_post(conn, resolver, settings, library, "And on Saturdays at 10.", in_reply_to=first.uri)
    edited = await publish_post(conn, resolver, settings, library, "Closed on Monday.", language="en")
    edited = await edit_post(conn, resolver, settings, edited.uri, "Closed on Monday and Tuesday.", summary="Closures")
    image = png(3, 2)
    upload = await media_queries.insert_media(
        conn, library.id, None, NewMedia("image/png", "0123456789abcdef0123456789abcdef.png", len(image), 3, 2, "Sofas", (0.5, -0.25))
    )
    directory = media_dir(settings)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / upload.file_name).write_bytes(image)
    with_image = await publish_post(
        conn, resolver, settings, library, "Our new reading room", attachments=documents([upload], settings)
    )
    await media_queries.attach_media(conn, with_image.id, [upload.id])
    await pin_post(conn, settings, first.uri)
    deleted = await publish_post(conn, resolver, settings, library, "Posted by mistake.")
    deleted = await delete_post(conn, settings, deleted.uri)

    for name, host in (("bob", "mastodon.example"), ("carol", "social.example")):
        follower = await citizen(conn, name, host)
        await upsert_follow(conn, follower.id, library.id, f"https://{host}/activities/follow-{name}", "accepted")

    alice = peer.users["alice"]
    note = peer.note(alice, "<p>Great, thank you!</p>", inReplyTo=first.uri, cc=[library.uri])
    status, _ = await peer.deliver(
        http, alice, f"{instance.base_url}/users/library/inbox", peer.activity(alice, "Create", note, to=[PUBLIC]),
        host="city.example",
    )
    assert status == 202
    services = instance.services
    await Worker(services.pool, [InboxTask(services.pool, services.resolver, services.settings)]).run_until_idle()
    assert await conn.fetchval("SELECT in_reply_to_id FROM posts WHERE uri = $1", note["id"]) == first.id
    return Seeded(library, first, unlisted, answer, edited, with_image, deleted, upload.file_name, image, note["id"])


async def counts(conn: asyncpg.Connection) -> dict[str, int]:
    """Rows per table an import writes to."""
    return {table: int(await conn.fetchval(f"SELECT count(*) FROM {table}")) for table in TABLES}


@pytest.fixture
async def seeded(
    conn: asyncpg.Connection, settings: Settings, vault: KeyVault, instance: RunningInstance, peer: RemotePeer,
    http: aiohttp.ClientSession,
) -> Seeded:
    """The scenario's department, on the test's database."""
    return await seed_department(conn, settings, vault, instance, peer, http)


@pytest.fixture
async def members(conn: asyncpg.Connection, settings: Settings, vault: KeyVault, seeded: Seeded) -> dict[str, bytes]:
    """The archive of the seeded department."""
    async with conn.transaction(isolation="repeatable_read"):
        archive = await build_archive(conn, settings, vault, seeded.department, media_dir(settings))
    return archive.members


def document(members: dict[str, bytes], name: str) -> dict:
    """One JSON member of an archive."""
    return json.loads(members[name])


async def test_the_archive_holds_the_departments_posts_followers_replies_and_media(
    members: dict[str, bytes], seeded: Seeded, settings: Settings
) -> None:
    manifest = document(members, "manifest.json")
    assert manifest["format"] == "fedi-archive" and manifest["version"] == 1
    assert (manifest["domain"], manifest["department"]) == ("city.example", "library")
    assert manifest["counts"] | {"media_missing": 0} == {
        "posts": 5, "deleted_posts": 1, "pinned": 1, "followers": 2, "following": 0, "replies": 1, "likes": 0,
        "media": 1, "media_missing": 0,
    }
    actor = document(members, "actor.json")
    assert actor["id"] == "https://city.example/users/library" and "BEGIN PUBLIC KEY" in actor["publicKey"]["publicKeyPem"]
    assert b"PRIVATE KEY" not in b"".join(members.values())

    items = {item["object"]["id"]: item for item in document(members, "outbox.json")["orderedItems"]}
    assert len(items) == 6
    edited = items[seeded.edited.uri]["object"]
    assert edited["content"] == "<p>Closed on Monday and Tuesday.</p>" and edited["summary"] == "Closures"
    assert edited["updated"] and edited["source"] == {"content": "Closed on Monday and Tuesday.", "mediaType": "text/plain"}
    assert items[seeded.unlisted.uri]["object"]["cc"] == [PUBLIC]
    assert items[seeded.answer.uri]["object"]["inReplyTo"] == seeded.first.uri
    image = items[seeded.with_image.uri]["object"]["attachment"]
    assert image == [{"type": "Document", "mediaType": "image/png", "url": f"https://city.example/media/{seeded.image_name}",
                      "name": "Sofas", "width": 3, "height": 2}]
    tombstone = items[seeded.deleted.uri]["object"]
    assert tombstone["type"] == "Tombstone" and "content" not in tombstone and "Posted by mistake" not in json.dumps(tombstone)
    assert members[f"media/{seeded.image_name}"] == seeded.image

    followers = document(members, "followers.json")["orderedItems"]
    assert [f["actor"]["id"] for f in followers] == ["https://mastodon.example/users/bob", "https://social.example/users/carol"]
    assert followers[0]["actor"]["endpoints"] == {"sharedInbox": "https://mastodon.example/inbox"}
    replies = document(members, "replies.json")["orderedItems"]
    assert [(r["id"], r["inReplyTo"], r["content"]) for r in replies] == [
        (seeded.citizen_reply_uri, seeded.first.uri, "<p>Great, thank you!</p>")
    ]
    assert replies[0]["attributedTo"] in [a["id"] for a in document(members, "actors.json")["orderedItems"]]


async def _restored_rows(url: str) -> list[tuple]:
    """Every post's columns (a deleted post's text, tags and attachments are not archived)."""
    kept = (
        "p.source", "p.content_html", "p.summary", "p.language", "p.tags", "jsonb_strip_nulls(p.attachments)",
        "p.edited_at", "p.in_reply_to_uri", "parent.uri",
    )
    target = await connect(url)
    try:
        rows = await target.fetch(
            f"""SELECT p.id, p.uri, p.url, p.local, p.visibility, p.to_uris, p.cc_uris, p.published_at, p.deleted_at,
                      p.pinned_at, p.created_at, {', '.join(f'CASE WHEN p.deleted_at IS NULL THEN {c} END' for c in kept)}
               FROM posts p LEFT JOIN posts parent ON parent.id = p.in_reply_to_id ORDER BY p.id"""
        )
        return [tuple(r) for r in rows]
    finally:
        await target.close()


async def test_an_import_into_an_empty_database_restores_everything_once(
    conn: asyncpg.Connection, members: dict[str, bytes], seeded: Seeded, settings: Settings, vault: KeyVault,
    new_database: Callable[[], Awaitable[str]], tmp_path: Path,
) -> None:
    url = await new_database()
    target_settings = load_settings(environ={}, domain="city.example", secret_key=TEST_SECRET, database_url=url,
                                    data_dir=str(tmp_path / "elsewhere"))
    restore = check_archive(members, target_settings)
    target = await connect(url)
    try:
        report = await restore_archive(target, target_settings, vault, restore, media_dir(target_settings))
        assert report.profile == "created" and report.changed
        assert report.counts["posts"] == [5, 0] and report.counts["replies"] == [1, 0]
        assert report.counts["followers"] == [2, 0] and report.counts["media"] == [1, 0]
        department = await target.fetchrow("SELECT id, area, summary, fields, created_at FROM actors WHERE username = 'library'")
        assert (department["area"], department["summary"]) == ("Culture", "Books, reading rooms and events.")
        assert department["created_at"] == seeded.department.created_at
        assert await target.fetchval("SELECT count(*) FROM keys WHERE actor_id = $1", department["id"]) == 1
        assert await target.fetchval(
            "SELECT count(*) FROM follows WHERE followee_id = $1 AND state = 'accepted'", department["id"]
        ) == 2
        assert (media_dir(target_settings) / seeded.image_name).read_bytes() == seeded.image
        media = await target.fetchrow("SELECT description, focus_x, focus_y, post_id FROM media_attachments")
        assert tuple(media) == ("Sofas", 0.5, -0.25, seeded.with_image.id)
        # the next post takes an id after the restored ones
        assert await target.fetchval("SELECT nextval(pg_get_serial_sequence('posts', 'id'))") > seeded.deleted.id
        before = await counts(target)

        again = await restore_archive(target, target_settings, vault, check_archive(members, target_settings), media_dir(target_settings))
        assert not again.changed and again.profile == "unchanged"
        assert await counts(target) == before
    finally:
        await target.close()
    original = await _restored_rows(settings.database_url or "")
    restored = await _restored_rows(url)
    assert restored == original


def _rezip(members: dict[str, bytes], **changes: bytes | None) -> dict[str, bytes]:
    changed = dict(members)
    for name, data in changes.items():
        name = name.replace("_json", ".json")
        if data is None:
            del changed[name]
        else:
            changed[name] = data
    return changed


def _with(members: dict[str, bytes], name: str, **fields: object) -> bytes:
    return json.dumps(json.loads(members[name]) | fields).encode()


async def test_a_bad_archive_is_refused_with_a_message_and_nothing_written(
    members: dict[str, bytes], seeded: Seeded, vault: KeyVault, new_database: Callable[[], Awaitable[str]], tmp_path: Path,
) -> None:
    url = await new_database()
    target_settings = load_settings(environ={}, domain="city.example", secret_key=TEST_SECRET, database_url=url,
                                    data_dir=str(tmp_path / "elsewhere"))
    other_domain = load_settings(environ={}, domain="town.example", secret_key=TEST_SECRET, database_url=url)
    outbox = json.loads(members["outbox.json"])
    outbox["orderedItems"][0]["object"]["id"] = "https://elsewhere.example/users/library/statuses/1"
    cases = [
        (_rezip(members, manifest_json=_with(members, "manifest.json", version=2)), "version 2 is not supported"),
        (_rezip(members, followers_json=None), "the archive has no followers.json"),
        (_rezip(members, replies_json=b'{"type": "OrderedCollection", "orderedItems": ['), "replies.json is not valid JSON"),
        (_rezip(members, outbox_json=json.dumps(outbox).encode()), "is not the id of a post of"),
        (_rezip(members, profile_json=_with(members, "profile.json", fields="none")), "profile.json: fields must be a list"),
        (_rezip(members, **{f"media/{seeded.image_name}": None}), f"the archive has no media/{seeded.image_name}"),
    ]
    for bad, message in cases:
        with pytest.raises(ArchiveError, match=message):
            check_archive(bad, target_settings)
    with pytest.raises(ArchiveError, match="ids cannot change on import"):
        check_archive(members, other_domain)
    with pytest.raises(ArchiveError, match="holds department 'library', not 'museum'"):
        check_archive(members, target_settings, "museum")

    # a conflict found while writing rolls everything back, media files included
    target = await connect(url)
    try:
        museum = await make_department(target, target_settings, vault, "museum")
        await target.execute(
            "INSERT INTO posts (id, uri, local, author_id, visibility) VALUES ($1, $2, true, $3, 'public')",
            seeded.deleted.id, f"{museum.uri}/statuses/{seeded.deleted.id}", museum.id,
        )
        before = await counts(target)
        with pytest.raises(ArchiveError, match=f"post id {seeded.deleted.id} is taken on this server"):
            await restore_archive(target, target_settings, vault, check_archive(members, target_settings), media_dir(target_settings))
        assert await counts(target) == before
        assert not (media_dir(target_settings) / seeded.image_name).exists()
    finally:
        await target.close()


async def test_archives_are_read_from_zip_and_tar_gz_files_only(members: dict[str, bytes], tmp_path: Path) -> None:
    for name, kind in (("a.zip", "zip"), ("a.tar.gz", "tar.gz")):
        (tmp_path / name).write_bytes(archive_bytes(members | {"../../escape.json": b"{}"}, kind))
        assert read_archive(tmp_path / name) == members
    (tmp_path / "notes.zip").write_text("just some text")
    with pytest.raises(ArchiveError, match="is not a .zip or .tar.gz archive"):
        read_archive(tmp_path / "notes.zip")
    broken = io.BytesIO()
    with zipfile.ZipFile(broken, "w") as archive:
        archive.writestr("manifest.json", "{}")
    (tmp_path / "broken.zip").write_bytes(broken.getvalue()[:-30])
    with pytest.raises(ArchiveError, match="not a"):
        read_archive(tmp_path / "broken.zip")
