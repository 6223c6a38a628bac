"""Publishing from the client API: a draft read from the request, then published or edited through ``outbox.posts``.

On top of the outbox functions this adds what a staff member's app needs: uploaded media become the
post's attachments (federated as ``Document`` objects), the department's signature setting appends
"— <name>" to the text, the application and the staff member are recorded, and every change is written
to the audit log, all in the transaction that stores the post.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import asyncpg

from actors.errors import NotFound, ValidationError
from actors.queries import Actor
from actors.remote import ActorResolver
from actors.remote_queries import actor_by_id
from api.errors import NotFoundError, Unprocessable
from api.statuses import media_queries, publishing_queries, queries
from api.statuses.entities import media_url
from api.statuses.media_queries import MediaRecord
from api.statuses.params import Params, flag_param, id_param, ids_param, text_param
from fedi.settings import Settings
from outbox import audit
from outbox.addressing import VISIBILITIES
from outbox.posts import delete_post, edit_post, publish_post
from outbox.queries import Post
from outbox.signatures import signature_line, signed

MAX_MEDIA = 4


@dataclass(frozen=True)
class Draft:
    """What a staff member asked to publish (the parameters of POST /api/v1/statuses)."""

    text: str
    visibility: str = "public"
    in_reply_to_id: int | None = None
    spoiler_text: str = ""
    sensitive: bool = False
    language: str | None = None
    media_ids: tuple[int, ...] = ()

    def as_params(self, application_id: int | None) -> dict[str, Any]:
        """The draft in the shape of a ScheduledStatus's ``params``."""
        return {
            "text": self.text, "media_ids": [str(i) for i in self.media_ids] or None, "sensitive": self.sensitive,
            "spoiler_text": self.spoiler_text or None, "visibility": self.visibility, "scheduled_at": None,
            "poll": None, "idempotency": None, "in_reply_to_id": self.in_reply_to_id, "language": self.language,
            "application_id": application_id, "with_rate_limit": False,
        }

    @classmethod
    def from_params(cls, stored: dict[str, Any]) -> Draft:
        """The draft stored in a ScheduledStatus's ``params``."""
        return cls(
            text=stored.get("text") or "", visibility=stored.get("visibility") or "public",
            in_reply_to_id=stored.get("in_reply_to_id"), spoiler_text=stored.get("spoiler_text") or "",
            sensitive=bool(stored.get("sensitive")), language=stored.get("language"),
            media_ids=tuple(int(i) for i in stored.get("media_ids") or ()),
        )


@dataclass(frozen=True)
class Writer:
    """Who publishes: the staff member, the department they act as, and their app."""

    staff_id: int
    actor_id: int
    application_id: int | None


def read_draft(params: Params) -> Draft:
    """The draft in a request's parameters; 422 when it cannot be published."""
    text = text_param(params, "status") or ""
    media_ids = tuple(ids_param(params, "media_ids"))
    if not text.strip() and not media_ids:
        raise Unprocessable("Validation failed: Text can't be blank")
    if len(media_ids) > MAX_MEDIA:
        raise Unprocessable(f"Validation failed: Media attachments are limited to {MAX_MEDIA}")
    visibility = text_param(params, "visibility") or "public"
    if visibility not in VISIBILITIES:
        raise Unprocessable(f"Validation failed: Visibility must be one of {', '.join(VISIBILITIES)}")
    return Draft(
        text=text, visibility=visibility, in_reply_to_id=id_param(params, "in_reply_to_id"),
        spoiler_text=text_param(params, "spoiler_text") or "", sensitive=bool(flag_param(params, "sensitive")),
        language=text_param(params, "language") or None, media_ids=media_ids,
    )


def domain_error(exc: ValidationError | NotFound) -> Unprocessable | NotFoundError:
    """The API error for an outbox refusal."""
    if isinstance(exc, NotFound):
        return NotFoundError(str(exc))
    return Unprocessable(f"Validation failed: {exc}")


def documents(media: list[MediaRecord], settings: Settings) -> list[dict[str, Any]]:
    """The ``Document`` objects federated for a post's media."""
    return [
        {
            "type": "Document", "mediaType": m.content_type, "url": media_url(settings, m.file_name),
            "name": m.description, "width": m.width, "height": m.height, "blurhash": m.blurhash,
        }
        for m in media
    ]


async def department_of(conn: asyncpg.Connection, actor_id: int) -> Actor:
    """The department a token acts as."""
    department = await actor_by_id(conn, actor_id)
    if department is None or department.deleted_at is not None:
        raise NotFoundError("Record not found")
    return department


async def check_media(conn: asyncpg.Connection, actor_id: int, media_ids: tuple[int, ...], post_id: int | None) -> list[MediaRecord]:
    """The department's uploads named by ``media_ids``, free or already on ``post_id``; 422 for any other."""
    media = await media_queries.usable_media(conn, media_ids, actor_id, post_id)
    if len(media) != len(set(media_ids)):
        raise Unprocessable("Validation failed: media_ids names media that are not yours or are used by another post")
    return media


async def reply_target(conn: asyncpg.Connection, in_reply_to_id: int | None, viewer_id: int) -> Post | None:
    """The post replied to, which the department must be able to see."""
    if in_reply_to_id is None:
        return None
    parent = await queries.visible_post(conn, in_reply_to_id, viewer_id)
    if parent is None:
        raise NotFoundError("The post you are trying to reply to does not appear to exist.")
    return parent


async def publish(
    conn: asyncpg.Connection, resolver: ActorResolver, settings: Settings, writer: Writer, draft: Draft
) -> Post:
    """Publish a draft as the writer's department (call inside the caller's transaction)."""
    department = await department_of(conn, writer.actor_id)
    parent = await reply_target(conn, draft.in_reply_to_id, writer.actor_id)
    media = await check_media(conn, writer.actor_id, draft.media_ids, None)
    text = signed(draft.text, await signature_line(conn, writer.actor_id, writer.staff_id))
    try:
        post = await publish_post(
            conn, resolver, settings, department, text, staff_id=writer.staff_id, visibility=draft.visibility,
            in_reply_to=None if parent is None else parent.uri, summary=draft.spoiler_text,
            sensitive=draft.sensitive, language=draft.language, attachments=documents(media, settings),
        )
    except (ValidationError, NotFound) as exc:
        raise domain_error(exc) from exc
    await media_queries.attach_media(conn, post.id, [m.id for m in media])
    await publishing_queries.set_application(conn, post.id, writer.application_id)
    await audit.record(conn, writer.staff_id, writer.actor_id, "post", post.id, writer.application_id)
    return post


async def edit(
    conn: asyncpg.Connection, resolver: ActorResolver, settings: Settings, writer: Writer, post: Post, params: Params
) -> Post:
    """Apply PUT /api/v1/statuses/:id to one of the department's posts (parameters not given are kept)."""
    text = text_param(params, "status")
    media_ids = tuple(ids_param(params, "media_ids")) if "media_ids" in params else None
    if media_ids is not None and len(media_ids) > MAX_MEDIA:
        raise Unprocessable(f"Validation failed: Media attachments are limited to {MAX_MEDIA}")
    media = None if media_ids is None else await check_media(conn, writer.actor_id, media_ids, post.id)
    body = post.source or "" if text is None else text
    if text is not None:
        body = signed(body, await signature_line(conn, writer.actor_id, writer.staff_id))
    sensitive = flag_param(params, "sensitive")
    try:
        edited = await edit_post(
            conn, resolver, settings, post.uri, body, summary=text_param(params, "spoiler_text"), sensitive=sensitive,
            language=text_param(params, "language") or None,
            attachments=None if media is None else documents(media, settings),
        )
    except (ValidationError, NotFound) as exc:
        raise domain_error(exc) from exc
    if media is not None:
        await media_queries.attach_media(conn, post.id, [m.id for m in media])
    await audit.record(conn, writer.staff_id, writer.actor_id, "edit", post.id, writer.application_id)
    return edited


async def delete(conn: asyncpg.Connection, settings: Settings, writer: Writer, post: Post) -> Post:
    """Delete one of the department's posts (its media stay, to be used again)."""
    try:
        deleted = await delete_post(conn, settings, post.uri)
    except (ValidationError, NotFound) as exc:
        raise domain_error(exc) from exc
    await audit.record(conn, writer.staff_id, writer.actor_id, "delete", post.id, writer.application_id)
    return deleted
