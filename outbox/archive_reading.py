"""Reading and checking a department's archive before anything of it is written (``fedi admin import``).

The archive (see ``outbox.archive``) is read in memory and checked whole: a member that is missing or
malformed, another format version, another domain (ids would change; moving to another domain is what
an account ``Move`` is for) or another department than ``--department`` is refused with a message naming
it. The result, a ``Restore``, is what ``outbox.archive_import`` writes.
"""

from __future__ import annotations

import io
import json
import re
import tarfile
import zipfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import nh3

from actors.errors import ActorsError, InvalidDocument
from actors.remote_documents import RemoteActorData, has_type, host_of, parse_actor
from actors.urls import department_urls
from actors.validation import DepartmentInput, department_input
from fedi.html import ALLOWED_ATTRIBUTES, ALLOWED_CLASSES, ALLOWED_SCHEMES, ALLOWED_TAGS, html_to_text, sanitize_html
from fedi.settings import Settings
from outbox.archive import DOCUMENTS, FORMAT, MEDIA_NAME_RE, MEDIA_PREFIX, MEDIA_TYPES, VERSION, ArchiveError
from outbox.posts import LANGUAGE_RE
from outbox.remote_posts import POST_TYPES, read_visibility

MAX_DOCUMENT = 256 * 1024 * 1024
MAX_MEDIA = 10 * 1024 * 1024
MAX_MEMBERS = 100_000
MAX_ITEMS = 64


@dataclass(frozen=True)
class ArchivedPost:
    """A post to restore: its database id when it has one to keep, its author, columns and mentions."""

    post_id: int | None
    author_uri: str
    local: bool
    values: dict[str, Any]
    mentions: tuple[str, ...]

    @property
    def uri(self) -> str:
        """The post's ActivityPub id."""
        return str(self.values["uri"])


@dataclass(frozen=True)
class ArchivedRelation:
    """A follow or like: its id, the other side, and its times."""

    uri: str
    other: str
    created_at: datetime
    accepted_at: datetime


@dataclass(frozen=True)
class Restore:
    """A checked archive, ready to be written."""

    profile: DepartmentInput
    created_at: datetime
    updated_at: datetime
    posts: list[ArchivedPost]
    pinned: list[tuple[str, datetime]]
    actors: dict[str, RemoteActorData]
    followers: list[ArchivedRelation]
    following: list[ArchivedRelation]
    others: list[ArchivedPost]
    likes: list[ArchivedRelation]
    media: list[dict[str, Any]]
    files: dict[str, bytes]

def _limited(name: str, size: int) -> int:
    limit = MAX_MEDIA if name.startswith(MEDIA_PREFIX) else MAX_DOCUMENT
    if size > limit:
        raise ArchiveError(f"archive member {name} is too large ({size} bytes, at most {limit})")
    return limit


def _wanted(name: str) -> bool:
    return name in DOCUMENTS or (name.startswith(MEDIA_PREFIX) and bool(MEDIA_NAME_RE.match(name[len(MEDIA_PREFIX):])))


def read_archive(path: Path) -> dict[str, bytes]:
    """The known members of a .zip or .tar.gz archive (others are ignored; nothing is extracted to disk)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ArchiveError(f"cannot read {path}: {exc.strerror or exc}") from exc
    members: dict[str, bytes] = {}
    try:
        if zipfile.is_zipfile(io.BytesIO(data)):
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                infos = archive.infolist()
                if len(infos) > MAX_MEMBERS:
                    raise ArchiveError(f"{path} has too many members ({len(infos)})")
                for info in infos:
                    if _wanted(info.filename) and not info.is_dir():
                        limit = _limited(info.filename, info.file_size)
                        with archive.open(info) as member:
                            members[info.filename] = member.read(limit + 1)
                        _limited(info.filename, len(members[info.filename]))
        elif data[:2] == b"\x1f\x8b":
            with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
                for count, info in enumerate(archive):
                    if count >= MAX_MEMBERS:
                        raise ArchiveError(f"{path} has too many members")
                    if info.isfile() and _wanted(info.name):
                        _limited(info.name, info.size)
                        extracted = archive.extractfile(info)
                        assert extracted is not None
                        members[info.name] = extracted.read()
        else:
            raise ArchiveError(f"{path} is not a .zip or .tar.gz archive")
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError) as exc:
        raise ArchiveError(f"{path} is not a readable archive: {exc}") from exc
    return members


# Checking its documents.


def _document(members: dict[str, bytes], name: str) -> Any:
    if name not in members:
        raise ArchiveError(f"the archive has no {name}")
    try:
        return json.loads(members[name])
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ArchiveError(f"{name} is not valid JSON: {exc}") from exc


def _object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ArchiveError(f"{where} must be a JSON object")
    return value


def _string(value: Any, where: str, optional: bool = False) -> Any:
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise ArchiveError(f"{where} must be a string")
    return value


def _strings(value: Any, where: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ArchiveError(f"{where} must be a list of strings")
    return list(value)


def _time(value: Any, where: str, optional: bool = False) -> Any:
    if value is None and optional:
        return None
    try:
        moment = datetime.fromisoformat(_string(value, where))
    except ValueError as exc:
        raise ArchiveError(f"{where} is not a time: {value!r}") from exc
    if moment.tzinfo is None:
        raise ArchiveError(f"{where} has no time zone: {value!r}")
    return moment


def _items(members: dict[str, bytes], name: str) -> list[dict[str, Any]]:
    document = _object(_document(members, name), name)
    items = document.get("orderedItems")
    if document.get("type") != "OrderedCollection" or not isinstance(items, list):
        raise ArchiveError(f"{name} must be an OrderedCollection with orderedItems")
    return [_object(item, f"item {i + 1} of {name}") for i, item in enumerate(items)]


def _http(value: Any, where: str) -> str:
    url = _string(value, where)
    if not re.match(r"^https?://[^/\s]+", url):
        raise ArchiveError(f"{where} must be an http(s) URL, not {url!r}")
    return str(url)


def _scalars(value: Any, where: str) -> list[dict[str, Any]]:
    """A list of flat objects (tags, attachments) keeping only their text, number and true/false values."""
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > MAX_ITEMS:
        raise ArchiveError(f"{where} must be a list of at most {MAX_ITEMS} objects")
    kept = []
    for item in value:
        if not isinstance(item, dict) or not isinstance(item.get("type"), str):
            raise ArchiveError(f"each entry of {where} must be an object with a type")
        kept.append({k: v for k, v in item.items() if isinstance(v, (str, int, float, bool))})
    for item in kept:
        if "url" in item:
            _http(item["url"], f"an attachment url in {where}")
    return kept


def local_html(value: str) -> str:
    """A restored local post's HTML, sanitized as remote HTML is but keeping the ``rel`` its own links had."""
    attributes = ALLOWED_ATTRIBUTES | {"a": ALLOWED_ATTRIBUTES["a"] | {"rel", "target"}}
    return nh3.clean(
        value, tags=ALLOWED_TAGS, attributes=attributes, url_schemes=ALLOWED_SCHEMES, link_rel=None,
        allowed_classes=ALLOWED_CLASSES, strip_comments=True,
    )


def _note_values(note: dict[str, Any], where: str, followers_url: str | None, local: bool = False) -> dict[str, Any]:
    """The stored columns of a Note (content sanitized as any remote HTML is)."""
    clean = local_html if local else sanitize_html
    to, cc = _strings(note.get("to"), f"{where}: to"), _strings(note.get("cc"), f"{where}: cc")
    content_map = note.get("contentMap")
    language = next(iter(content_map), None) if isinstance(content_map, dict) and content_map else None
    if language is not None and not LANGUAGE_RE.match(str(language)):
        raise ArchiveError(f"{where}: {language!r} is not a language code")
    summary = _string(note.get("summary"), f"{where}: summary", optional=True)
    url = note.get("url")
    published = _time(note.get("published"), f"{where}: published")
    return {
        "uri": note["id"], "object_type": note["type"],
        "url": _http(url, f"{where}: url") if url is not None else None,
        "in_reply_to_uri": _string(note.get("inReplyTo"), f"{where}: inReplyTo", optional=True),
        "visibility": read_visibility(to, cc, followers_url),
        "source": None, "content_html": clean(_string(note.get("content", ""), f"{where}: content")),
        "summary": html_to_text(sanitize_html(summary)) if summary else "", "sensitive": note.get("sensitive") is True,
        "language": language, "to_uris": to, "cc_uris": cc,
        "tags": _scalars(note.get("tag"), f"{where}: tag"), "attachments": _scalars(note.get("attachment"), f"{where}: attachment"),
        "published_at": published, "edited_at": _time(note.get("updated"), f"{where}: updated", optional=True),
        "deleted_at": None, "created_at": published,
    }


def _mentions(values: dict[str, Any]) -> tuple[str, ...]:
    return tuple(str(t["href"]) for t in values["tags"] if t.get("type") == "Mention" and isinstance(t.get("href"), str))


def _local_post(activity: dict[str, Any], where: str, settings: Settings, username: str) -> ArchivedPost:
    urls = department_urls(settings.base_url, username)
    if activity.get("type") != "Create" or activity.get("actor") != urls.id:
        raise ArchiveError(f"{where} must be a Create by {urls.id}")
    obj = _object(activity.get("object"), f"{where}: object")
    match = re.fullmatch(re.escape(urls.id) + r"/statuses/([0-9]{1,18})", str(obj.get("id")))
    if match is None:
        raise ArchiveError(f"{where}: {obj.get('id')!r} is not the id of a post of {urls.id}")
    post_id = int(match.group(1))
    if obj.get("type") == "Tombstone":
        published = _time(obj.get("published"), f"{where}: published")
        to, cc = _strings(activity.get("to"), f"{where}: to"), _strings(activity.get("cc"), f"{where}: cc")
        values = {
            "uri": obj["id"], "object_type": _string(obj.get("formerType", "Note"), f"{where}: formerType"),
            "url": f"{urls.profile}/{post_id}", "in_reply_to_uri": None,
            "visibility": read_visibility(to, cc, urls.followers), "source": None, "content_html": "", "summary": "",
            "sensitive": False, "language": None, "to_uris": to, "cc_uris": cc, "tags": [], "attachments": [],
            "published_at": published, "edited_at": None, "deleted_at": _time(obj.get("deleted"), f"{where}: deleted"),
            "created_at": published,
        }
        return ArchivedPost(post_id, urls.id, True, values, ())
    if obj.get("type") != "Note" or obj.get("attributedTo") != urls.id:
        raise ArchiveError(f"{where}: the object must be a Note attributed to {urls.id}")
    values = _note_values(obj, where, urls.followers, local=True)
    if values["url"] != f"{urls.profile}/{post_id}":
        raise ArchiveError(f"{where}: url must be {urls.profile}/{post_id}")
    source = obj.get("source")
    if isinstance(source, dict):
        values["source"] = _string(source.get("content"), f"{where}: source.content")
    return ArchivedPost(post_id, urls.id, True, values, _mentions(values))


def _remote_post(note: dict[str, Any], where: str, settings: Settings, actors: dict[str, RemoteActorData]) -> ArchivedPost:
    note_id = _http(note.get("id"), f"{where}: id")
    author = _string(note.get("attributedTo"), f"{where}: attributedTo")
    if host_of(note_id) == settings.domain:
        raise ArchiveError(f"{where}: {note_id} is an id of this server, not a citizen's post")
    if author not in actors or host_of(author) != host_of(note_id):
        raise ArchiveError(f"{where}: its author {author!r} is not in actors.json or not on the post's host")
    if not has_type(note, POST_TYPES):
        raise ArchiveError(f"{where}: a {note.get('type')!r} is not a post")
    values = _note_values(note, where, actors[author].followers_url)
    values["created_at"] = _time(note.get("received"), f"{where}: received", optional=True) or values["published_at"]
    order = note.get("order")
    if order is not None and (not isinstance(order, int) or isinstance(order, bool) or not 0 < order < 2**62):
        raise ArchiveError(f"{where}: order must be a positive integer")
    return ArchivedPost(order, author, False, values, _mentions(values))


def _actor(document: Any, where: str, settings: Settings, actors: dict[str, RemoteActorData]) -> str:
    """Check a remote actor's document and keep it; returns its id (actors of this server are only named)."""
    if isinstance(document, dict) and isinstance(document.get("id"), str) and host_of(document["id"]) == settings.domain:
        return str(document["id"])
    try:
        data = parse_actor(document)
    except InvalidDocument as exc:
        raise ArchiveError(f"{where}: {exc}") from exc
    actors.setdefault(data.uri, data)
    return data.uri


def _follows(members: dict[str, bytes], name: str, settings: Settings, department_uri: str,
             actors: dict[str, RemoteActorData]) -> list[ArchivedRelation]:
    side, own = ("actor", "object") if name == "followers.json" else ("object", "actor")
    follows = []
    for i, item in enumerate(_items(members, name)):
        where = f"item {i + 1} of {name}"
        if item.get("type") != "Follow" or item.get(own) != department_uri:
            raise ArchiveError(f"{where} must be a Follow whose {own} is {department_uri}")
        other = _actor(item.get(side), where, settings, actors)
        created = _time(item.get("published"), f"{where}: published")
        accepted = _time(item.get("accepted"), f"{where}: accepted", optional=True) or created
        follows.append(ArchivedRelation(_http(item.get("id"), f"{where}: id"), other, created, accepted))
    return follows


def _media(members: dict[str, bytes], posts: set[str]) -> list[dict[str, Any]]:
    media = []
    for i, item in enumerate(_items(members, "media.json")):
        where = f"item {i + 1} of media.json"
        file = _string(item.get("file"), f"{where}: file")
        name = file.removeprefix(MEDIA_PREFIX)
        if not file.startswith(MEDIA_PREFIX) or not MEDIA_NAME_RE.match(name):
            raise ArchiveError(f"{where}: {file!r} is not a media file name")
        if file not in members:
            raise ArchiveError(f"{where}: the archive has no {file}")
        if item.get("post") not in posts:
            raise ArchiveError(f"{where}: {item.get('post')!r} is not a post of the archive")
        media_type = MEDIA_TYPES[name.rsplit(".", 1)[1]]
        if item.get("mediaType") != media_type:
            raise ArchiveError(f"{where}: a .{name.rsplit('.', 1)[1]} file must be {media_type}")
        numbers = [item.get(k) for k in ("position", "width", "height")]
        if not all(isinstance(n, int) and not isinstance(n, bool) and 0 <= n < 100_000 for n in numbers):
            raise ArchiveError(f"{where}: position, width and height must be whole numbers")
        focus = item.get("focalPoint")
        if focus is not None and not (
            isinstance(focus, list) and len(focus) == 2 and all(isinstance(f, (int, float)) and -1 <= f <= 1 for f in focus)
        ):
            raise ArchiveError(f"{where}: focalPoint must be two numbers between -1 and 1")
        media.append({
            "file_name": name, "post_uri": item["post"], "position": numbers[0], "content_type": media_type,
            "size": len(members[file]), "width": numbers[1], "height": numbers[2],
            "description": _string(item.get("name"), f"{where}: name", optional=True),
            "focus_x": None if focus is None else float(focus[0]), "focus_y": None if focus is None else float(focus[1]),
            "blurhash": _string(item.get("blurhash"), f"{where}: blurhash", optional=True),
            "created_at": _time(item.get("published"), f"{where}: published"),
        })
    return media


def check_archive(members: dict[str, bytes], settings: Settings, department: str | None = None) -> Restore:
    """Check every document of an archive for this server; ArchiveError names the first problem."""
    manifest = _object(_document(members, "manifest.json"), "manifest.json")
    if manifest.get("format") != FORMAT:
        raise ArchiveError(f"manifest.json: this is not a {FORMAT} (format {manifest.get('format')!r})")
    if manifest.get("version") != VERSION:
        raise ArchiveError(f"archive format version {manifest.get('version')!r} is not supported (this server reads version {VERSION})")
    if manifest.get("domain") != settings.domain:
        raise ArchiveError(
            f"the archive is of {manifest.get('domain')!r}, this server is {settings.domain!r}: ids cannot change "
            "on import (to move a department to another domain, use an account Move)"
        )
    username = _string(manifest.get("department"), "manifest.json: department")
    if department is not None and department != username:
        raise ArchiveError(f"the archive holds department {username!r}, not {department!r} (a department keeps its name)")
    urls = department_urls(settings.base_url, username)
    actor = _object(_document(members, "actor.json"), "actor.json")
    if actor.get("id") != urls.id or actor.get("preferredUsername") != username:
        raise ArchiveError(f"actor.json is not the actor document of {urls.id}")
    profile = _object(_document(members, "profile.json"), "profile.json")
    try:
        data = department_input(profile.get("username"), {
            k: v for k, v in profile.items() if k not in ("username", "created_at", "updated_at")
        })
    except ActorsError as exc:
        raise ArchiveError(f"profile.json: {exc}") from exc
    if data.username != username:
        raise ArchiveError(f"profile.json is of {data.username!r}, the manifest of {username!r}")
    created_at = _time(profile.get("created_at"), "profile.json: created_at")
    updated_at = _time(profile.get("updated_at"), "profile.json: updated_at", optional=True) or created_at

    posts = [_local_post(item, f"item {i + 1} of outbox.json", settings, username) for i, item in enumerate(_items(members, "outbox.json"))]
    live = {p.uri for p in posts if p.values["deleted_at"] is None}
    pinned = []
    for i, item in enumerate(_items(members, "featured.json")):
        where = f"item {i + 1} of featured.json"
        if item.get("type") != "Add" or item.get("object") not in live:
            raise ArchiveError(f"{where} must be the Add of a live post of the archive")
        pinned.append((str(item["object"]), _time(item.get("published"), f"{where}: published")))

    actors: dict[str, RemoteActorData] = {}
    for i, document in enumerate(_items(members, "actors.json")):
        _actor(document, f"item {i + 1} of actors.json", settings, actors)
    followers = _follows(members, "followers.json", settings, urls.id, actors)
    following = _follows(members, "following.json", settings, urls.id, actors)
    replies = [_remote_post(note, f"item {i + 1} of replies.json", settings, actors) for i, note in enumerate(_items(members, "replies.json"))]
    known = live | {p.uri for p in replies}
    likes = []
    for i, item in enumerate(_items(members, "likes.json")):
        where = f"item {i + 1} of likes.json"
        if item.get("type") != "Like" or item.get("actor") != urls.id:
            raise ArchiveError(f"{where} must be a Like by {urls.id}")
        liked = item.get("object")
        if isinstance(liked, dict):
            post = _remote_post(liked, f"{where}: object", settings, actors)
            if post.uri not in known:
                replies.append(post)
                known.add(post.uri)
            liked = post.uri
        created = _time(item.get("published"), f"{where}: published")
        likes.append(ArchivedRelation(_http(item.get("id"), f"{where}: id"), _string(liked, f"{where}: object"), created, created))
    media = _media(members, live)
    files = {m["file_name"]: members[MEDIA_PREFIX + m["file_name"]] for m in media}
    replies.sort(key=lambda p: (p.post_id is None, p.post_id or 0))
    return Restore(data, created_at, updated_at, posts, pinned, actors, followers, following, replies, likes, media, files)
