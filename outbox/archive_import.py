"""Restoring a checked department archive (``fedi admin import``) into a server of the same domain.

One transaction restores the department (created with a fresh key pair when missing, its profile
updated when it differs), its posts under their ids, URLs and publication times (deleted ones as
deleted), pins, followers and followed actors as accepted follows, the citizens' replies in their
threads, the department's likes and its uploads; the media files are written before the commit and
removed again if it fails. Every row is matched by its ActivityPub id first, so importing twice changes
nothing the second time. Reading and checking the archive is ``outbox.archive_reading``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg

from actors.departments import column_values, insert_department
from actors.queries import local_actor_by_username, update_local_actor
from actors.remote_queries import actor_by_uri, upsert_remote_actor
from fedi.settings import Settings
from keys.keypairs import KeyVault
from keys.store import ensure_active_key
from outbox import archive_queries as q
from outbox.archive import ArchiveError
from outbox.archive_reading import Restore


@dataclass
class Report:
    """What an import did: ``(new, already there)`` per kind, and what happened to the department."""

    department: str
    profile: str = "unchanged"
    counts: dict[str, list[int]] = field(default_factory=dict)

    def count(self, kind: str, new: bool) -> None:
        """Count one restored (``new``) or already present row of a kind."""
        self.counts.setdefault(kind, [0, 0])[0 if new else 1] += 1

    @property
    def changed(self) -> bool:
        """Whether the import wrote anything."""
        return self.profile != "unchanged" or any(new for new, _ in self.counts.values())


async def _department(conn: asyncpg.Connection, settings: Settings, vault: KeyVault, restore: Restore, report: Report) -> Any:
    existing = await local_actor_by_username(conn, restore.profile.username, include_deleted=True)
    if existing is not None and existing.deleted_at is not None:
        raise ArchiveError(f"department {existing.username!r} was deleted on this server; its name cannot be used again")
    values = column_values(restore.profile)
    if existing is None:
        department = await insert_department(conn, settings, restore.profile)
        await ensure_active_key(conn, vault, department.id, department.uri)
        await q.set_actor_times(conn, department.id, restore.created_at, restore.updated_at)
        report.profile = "created"
        return department
    if any(getattr(existing, name) != value for name, value in values.items()):
        report.profile = "updated"
        return await update_local_actor(conn, existing.id, values)
    return existing


async def _actor_ids(conn: asyncpg.Connection, restore: Restore, report: Report) -> dict[str, int]:
    ids = {}
    for uri, data in restore.actors.items():
        stored = await actor_by_uri(conn, uri)
        if stored is not None and stored.local:
            raise ArchiveError(f"{uri} is a local actor of this server, not a remote one")
        report.count("remote actors", stored is None)
        if stored is None:
            stored = await upsert_remote_actor(conn, data)
        ids[uri] = stored.id
    return ids


async def _posts(conn: asyncpg.Connection, department_id: int, restore: Restore, actor_ids: dict[str, int], report: Report) -> list[str]:
    new = []
    for post in restore.posts:
        assert post.post_id is not None
        holder = await q.post_uri_with_id(conn, post.post_id)
        if holder is not None and holder != post.uri:
            raise ArchiveError(f"post id {post.post_id} is taken on this server by {holder}; cannot restore {post.uri}")
        added = holder is None and await q.insert_post(conn, post.post_id, department_id, True, post.values)
        report.count("deleted posts" if post.values["deleted_at"] else "posts", added)
        if added:
            new.append(post)
    for post in restore.others:
        if await q.post_row_id(conn, post.uri) is not None:
            report.count("replies", False)
            continue
        keep = post.post_id if post.post_id is not None and await q.post_uri_with_id(conn, post.post_id) is None else None
        await q.insert_post(conn, keep, actor_ids[post.author_uri], False, post.values)
        report.count("replies", True)
        new.append(post)
    await q.link_replies(conn, [p.uri for p in restore.posts + restore.others])
    for post in new:
        if post.mentions:
            await q.add_mentions(conn, post.uri, post.mentions)
    return [p.uri for p in new]


async def _local_or_known(conn: asyncpg.Connection, uri: str, actor_ids: dict[str, int]) -> int | None:
    if uri in actor_ids:
        return actor_ids[uri]
    stored = await actor_by_uri(conn, uri)
    return None if stored is None or stored.deleted_at is not None else stored.id


async def _relations(conn: asyncpg.Connection, department_id: int, restore: Restore, actor_ids: dict[str, int], report: Report) -> None:
    for kind, follows in (("followers", restore.followers), ("following", restore.following)):
        new_ids = []
        for follow in follows:
            other = await _local_or_known(conn, follow.other, actor_ids)
            if other is None:
                report.count(f"{kind} skipped (unknown actor of this server)", True)
                continue
            pair = (other, department_id) if kind == "followers" else (department_id, other)
            follow_id = await q.insert_follow(conn, follow.uri, *pair, follow.created_at, follow.accepted_at)
            report.count(kind, follow_id is not None)
            if follow_id is not None:
                new_ids.append(follow_id)
        if kind == "followers":
            await q.date_follow_records(conn, department_id, new_ids)
    new_likes = []
    for like in restore.likes:
        added = await q.insert_like(conn, like.uri, department_id, like.other, like.created_at)
        if not added and await q.post_row_id(conn, like.other) is None:
            report.count("likes skipped (post not stored)", True)
            continue
        report.count("likes", added)
        if added:
            new_likes.append(like.uri)
    await q.date_like_notifications(conn, new_likes)
    for uri, pinned_at in restore.pinned:
        report.count("pins", await q.set_pinned_at(conn, department_id, uri, pinned_at))


def _write_media(directory: Path, files: dict[str, bytes], written: list[Path]) -> None:
    """Write the media files that are not there yet (whole, under a temporary name first)."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        path = directory / name
        if path.exists():
            if path.read_bytes() != data:
                raise ArchiveError(f"media file {path} exists with other content")
            continue
        partial = directory / f".{name}.partial"
        partial.write_bytes(data)
        partial.replace(path)
        written.append(path)


async def restore_archive(
    conn: asyncpg.Connection, settings: Settings, vault: KeyVault, restore: Restore, media_dir: Path
) -> Report:
    """Write a checked archive in one transaction (media files with it); return what changed."""
    report = Report(restore.profile.username)
    written: list[Path] = []
    try:
        async with conn.transaction():
            department = await _department(conn, settings, vault, restore, report)
            ids = [p.post_id for p in restore.posts + restore.others if p.post_id is not None]
            await q.advance_post_ids(conn, max(ids, default=1))
            actor_ids = await _actor_ids(conn, restore, report)
            new_posts = await _posts(conn, department.id, restore, actor_ids, report)
            await _relations(conn, department.id, restore, actor_ids, report)
            for media in restore.media:
                report.count("media", await q.insert_media(conn, department.id, media))
            await q.date_post_notifications(conn, new_posts)
            _write_media(media_dir, restore.files, written)
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise
    return report
