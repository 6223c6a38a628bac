"""Undo: the undone activity is embedded (its type says what to undo) or named by its id only."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from actors.remote_documents import object_id
from inbox.handlers.context import Activity, Context
from inbox.handlers.follows import handle_undo_follow
from inbox.handlers.interactions import handle_undo_interaction
from inbox.handlers.moderation import handle_undo_block

log = logging.getLogger(__name__)

UndoHandler = Callable[[Context, dict[str, Any] | None, str], Awaitable[bool]]

UNDO_HANDLERS: dict[str, UndoHandler] = {
    "Follow": handle_undo_follow,
    "Like": handle_undo_interaction,
    "EmojiReact": handle_undo_interaction,
    "Announce": handle_undo_interaction,
    "Block": handle_undo_block,
}


async def handle_undo(ctx: Context, activity: Activity) -> None:
    """Undo the sender's own Follow, Like, reaction, Announce or Block."""
    obj = activity.get("object")
    uri = object_id(obj)
    if uri is None:
        return
    if isinstance(obj, dict) and isinstance(obj.get("type"), str):
        handler = UNDO_HANDLERS.get(obj["type"])
        if handler is None:
            log.info("Undo %s of a %s: nothing to undo", activity["id"], obj["type"])
        elif not await handler(ctx, obj, uri):
            log.info("Undo %s: %s was not stored", activity["id"], uri)
        return
    for handler in dict.fromkeys(UNDO_HANDLERS.values()):  # by id: whichever of the sender's it names
        if await handler(ctx, None, uri):
            return
    log.info("Undo %s: %s names nothing of the sender's", activity["id"], uri)
