"""Activity handlers, one module per family, registered by activity type.

Each handler gets the item's ``Context`` (its transaction's connection) and the activity, acts only
through ``actors``/``outbox`` functions and ``inbox.queries``, and is idempotent: running it twice
for the same activity changes nothing the second time. Types not listed here are acknowledged and
logged by ``inbox.processing``.
"""

from __future__ import annotations

from inbox.handlers import actors, changes, follows, interactions, moderation, notes, undo
from inbox.handlers.context import Context, Handler

HANDLERS: dict[str, Handler] = {
    "Follow": follows.handle_follow,
    "Accept": follows.handle_accept,
    "Reject": follows.handle_reject,
    "Create": notes.handle_create,
    "Update": changes.handle_update,
    "Delete": changes.handle_delete,
    "Like": interactions.handle_like,
    "EmojiReact": interactions.handle_emoji_react,
    "Announce": interactions.handle_announce,
    "Undo": undo.handle_undo,
    "Flag": moderation.handle_flag,
    "Block": moderation.handle_block,
    "Move": actors.handle_move,
}

__all__ = ["HANDLERS", "Context", "Handler"]
