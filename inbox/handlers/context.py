"""What every handler gets: the transaction's connection, the actor resolver, settings and the item."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg

from actors.queries import DEPARTMENT_TYPE, Actor
from actors.remote import ActorResolver
from actors.remote_documents import host_of
from actors.remote_queries import actor_by_uri
from fedi.settings import Settings
from inbox.queries import InboxItem

Activity = dict[str, Any]


@dataclass(frozen=True)
class Context:
    """One item's processing: handlers write through ``conn``, inside the item's transaction."""

    conn: asyncpg.Connection
    resolver: ActorResolver
    settings: Settings
    item: InboxItem

    @property
    def actor_uri(self) -> str:
        """The id of the actor who sent the activity (the verified signer)."""
        return self.item.actor_uri

    async def sender(self) -> Actor:
        """The sending actor: stored when its key was fetched, else fetched now (before any write)."""
        actor = await actor_by_uri(self.conn, self.actor_uri)
        return actor if actor is not None else await self.resolver.get_actor(self.actor_uri)

    async def known_sender(self) -> Actor | None:
        """The sending actor if it is stored (nothing is fetched: for undoing and deleting)."""
        return await actor_by_uri(self.conn, self.actor_uri)

    async def department(self, uri: str | None) -> Actor | None:
        """The live department whose actor id is ``uri``, if it is one."""
        if not uri or not self.resolver.is_local(uri):
            return None
        actor = await actor_by_uri(self.conn, uri)
        if actor is None or not actor.local or actor.actor_type != DEPARTMENT_TYPE or actor.deleted_at is not None:
            return None
        return actor

    async def own_object(self, value: Any) -> dict[str, Any] | None:
        """The sender's object: embedded, or fetched from its id; None when it is not the sender's."""
        if isinstance(value, str):
            if host_of(value) != host_of(self.actor_uri):
                return None
            value = await self.resolver.fetch_document(value)
        if not isinstance(value, dict) or host_of(str(value.get("id", ""))) != host_of(self.actor_uri):
            return None
        return value


Handler = Callable[[Context, Activity], Awaitable[None]]
