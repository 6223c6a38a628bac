"""Update and Delete: the object decides whether an actor changes itself or a post changes."""

from __future__ import annotations

from actors.remote_documents import ACTOR_TYPES, has_type, object_id
from inbox.handlers import actors, notes
from inbox.handlers.context import Activity, Context


async def handle_update(ctx: Context, activity: Activity) -> None:
    """An Update of the sender itself (profile) or of one of its posts (edit)."""
    obj = activity.get("object")
    if object_id(obj) == ctx.actor_uri or (isinstance(obj, dict) and has_type(obj, ACTOR_TYPES)):
        await actors.handle_update_actor(ctx, activity)
    else:
        await notes.handle_update_note(ctx, activity)


async def handle_delete(ctx: Context, activity: Activity) -> None:
    """A Delete of the sender itself (account gone) or of one of its posts."""
    if object_id(activity.get("object")) == ctx.actor_uri:
        await actors.handle_delete_actor(ctx, activity)
    else:
        await notes.handle_delete_note(ctx, activity)
