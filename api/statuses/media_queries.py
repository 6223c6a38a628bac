"""SQL for uploaded media: stored per department, attached to a post in the order the post lists them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg


@dataclass(frozen=True)
class MediaRecord:
    """An uploaded image and what is known of it."""

    id: int
    actor_id: int
    staff_id: int | None
    post_id: int | None
    position: int
    kind: str
    content_type: str
    file_name: str
    size: int
    width: int
    height: int
    description: str | None
    focus_x: float | None
    focus_y: float | None
    blurhash: str | None
    created_at: datetime


@dataclass(frozen=True)
class NewMedia:
    """The columns of an upload."""

    content_type: str
    file_name: str
    size: int
    width: int
    height: int
    description: str | None
    focus: tuple[float, float] | None


_MEDIA = (
    "id, actor_id, staff_id, post_id, position, kind, content_type, file_name, size, width, height, description, "
    "focus_x, focus_y, blurhash, created_at"
)


# A media row as a JSON array (``json_build_array``) read back by ``media_from_json``; focus as float8, so that it
# reads back as the same Python float as the real column does.
MEDIA_JSON = (
    "m.id, m.actor_id, m.staff_id, m.post_id, m.position, m.kind, m.content_type, m.file_name, m.size, m.width, "
    "m.height, m.description, m.focus_x::float8, m.focus_y::float8, m.blurhash, m.created_at"
)


def media_from_json(values: list[Any]) -> MediaRecord:
    """A MediaRecord from a ``MEDIA_JSON`` array."""
    *columns, created_at = values
    return MediaRecord(*columns, datetime.fromisoformat(created_at))


async def insert_media(conn: asyncpg.Connection, actor_id: int, staff_id: int | None, media: NewMedia) -> MediaRecord:
    """Store an upload of a department, attached to nothing yet."""
    focus = media.focus or (None, None)
    row = await conn.fetchrow(
        f"""INSERT INTO media_attachments (actor_id, staff_id, kind, content_type, file_name, size, width, height,
                description, focus_x, focus_y)
            VALUES ($1, $2, 'image', $3, $4, $5, $6, $7, $8, $9, $10) RETURNING {_MEDIA}""",
        actor_id, staff_id, media.content_type, media.file_name, media.size, media.width, media.height,
        media.description, focus[0], focus[1],
    )
    return MediaRecord(**dict(row))


async def media_of(conn: asyncpg.Connection, media_id: int, actor_id: int) -> MediaRecord | None:
    """A department's upload by id."""
    row = await conn.fetchrow(f"SELECT {_MEDIA} FROM media_attachments WHERE id = $1 AND actor_id = $2", media_id, actor_id)
    return None if row is None else MediaRecord(**dict(row))


async def describe_media(
    conn: asyncpg.Connection, media_id: int, description: str | None, focus: tuple[float, float] | None
) -> MediaRecord:
    """Set an upload's alt text and focal point."""
    row = await conn.fetchrow(
        f"""UPDATE media_attachments SET description = $2, focus_x = $3, focus_y = $4
            WHERE id = $1 RETURNING {_MEDIA}""",
        media_id, description, *(focus or (None, None)),
    )
    return MediaRecord(**dict(row))


async def usable_media(conn: asyncpg.Connection, media_ids: Sequence[int], actor_id: int, post_id: int | None) -> list[MediaRecord]:
    """The department's uploads among ``media_ids`` that are unattached or already on ``post_id``, in that order."""
    rows = await conn.fetch(
        f"""SELECT {_MEDIA} FROM media_attachments
            WHERE id = ANY($1::bigint[]) AND actor_id = $2 AND (post_id IS NULL OR post_id = $3)""",
        list(media_ids), actor_id, post_id,
    )
    found = {r["id"]: MediaRecord(**dict(r)) for r in rows}
    return [found[i] for i in media_ids if i in found]


async def attach_media(conn: asyncpg.Connection, post_id: int, media_ids: Sequence[int]) -> None:
    """Make ``media_ids`` exactly the post's media, in that order."""
    await conn.execute(
        "UPDATE media_attachments SET post_id = NULL WHERE post_id = $1 AND NOT (id = ANY($2::bigint[]))",
        post_id, list(media_ids),
    )
    await conn.execute(
        """UPDATE media_attachments m SET post_id = $1, position = u.position
           FROM unnest($2::bigint[]) WITH ORDINALITY AS u(id, position) WHERE m.id = u.id""",
        post_id, list(media_ids),
    )


async def media_by_ids(conn: asyncpg.Connection, media_ids: Sequence[int], actor_id: int) -> list[MediaRecord]:
    """A department's uploads among ``media_ids``, attached or not, in that order (unknown ones left out)."""
    rows = await conn.fetch(
        f"SELECT {_MEDIA} FROM media_attachments WHERE id = ANY($1::bigint[]) AND actor_id = $2",
        list(media_ids), actor_id,
    )
    found = {r["id"]: MediaRecord(**dict(r)) for r in rows}
    return [found[i] for i in media_ids if i in found]
