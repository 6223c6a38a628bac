"""Processing received activities: the ``inbox_items`` queue task.

Each claimed item runs in its own transaction: the row is locked (and skipped if another worker
finished it meanwhile), the handler registered for its type does its work, and the row is marked
``done`` in the same transaction, so an item's effects are applied exactly once. Items of one actor
in a batch are handled one after the other, in the order received (a Like before its Undo). A
handler error rolls the work back and the worker reports it to ``failed``, which schedules a retry:

    attempt 1 fails -> retry in 1 min, then 5 min, 15 min, 40 min -> attempt 5 fails -> failed

Unknown activity types are logged and marked done. An item whose actor or id the instance has
blocked since it was received is dropped (marked done, nothing applied). One item may trigger at
most ``fetch_budget`` remote fetches; an item needing more fails for good, with the reason as its
``last_error``, and is not retried.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import asyncpg

from actors.blocks import blocked_among
from actors.remote import FETCH_BUDGET, ActorResolver, FetchBudgetExceeded, fetch_budget
from fedi.settings import Settings
from fedi import worker
from fedi.metrics import count_inbox
from inbox import queries
from inbox.handlers import HANDLERS, Context
from inbox.queries import InboxItem

log = logging.getLogger(__name__)

RETRY_DELAYS: tuple[int, ...] = (60, 300, 900, 2400)
ERROR_TEXT_LIMIT = 500


def retry_delay(attempts: int) -> float | None:
    """Seconds until the next try after ``attempts`` failed ones, or None when the item has failed for good."""
    return worker.retry_delay(RETRY_DELAYS, attempts)


class InboxTask:
    """The queue task that runs the handlers of received activities."""

    name = "inbox"

    def __init__(
        self, pool: asyncpg.Pool, resolver: ActorResolver, settings: Settings, *, concurrency: int = 4,
        lock_seconds: float = 300, fetch_budget: int = FETCH_BUDGET,
    ) -> None:
        self.pool = pool
        self.resolver = resolver
        self.settings = settings
        self.concurrency = concurrency
        self.lock_seconds = lock_seconds
        self.fetch_budget = fetch_budget
        self._actor_locks: dict[str, asyncio.Lock] = {}
        self._lock_users: Counter[str] = Counter()

    async def claim(self, limit: int) -> Sequence[InboxItem]:
        """Lock up to ``limit`` due items, oldest first."""
        async with self.pool.acquire() as conn:
            return await queries.claim_items(conn, limit, self.lock_seconds)

    async def process(self, item: InboxItem) -> None:
        """Run the item's handler and mark it done, in one transaction."""
        async with self._in_order(item.actor_uri), self.pool.acquire() as conn, conn.transaction():
            if not await queries.lock_claimed_item(conn, item):
                log.info("inbox item %s (%s) was handled elsewhere", item.id, item.activity_id)
                return
            handler = HANDLERS.get(item.activity_type)
            blocked = await blocked_among(conn, [item.actor_uri, item.activity_id])
            if blocked is not None:
                log.info("inbox: %s %s dropped: %s is blocked by this instance", item.activity_type, item.activity_id, blocked)
            elif handler is None:
                log.info("inbox: %s %s from %s: type not handled", item.activity_type, item.activity_id, item.actor_uri)
            else:
                with fetch_budget(self.fetch_budget) as budget:
                    await handler(Context(conn, self.resolver, self.settings, item), item.payload)
                budget.check()  # a refused fetch fails the item even when the handler went on without it
            await queries.mark_done(conn, item.id)
        count_inbox(item.activity_type, "processed")

    async def failed(self, item: InboxItem, error: BaseException) -> None:
        """Record the error and schedule the next try (or give up after the last)."""
        retry_in = None if isinstance(error, FetchBudgetExceeded) else retry_delay(item.attempts)
        text = f"{type(error).__name__}: {error}"[:ERROR_TEXT_LIMIT]
        count_inbox(item.activity_type, "failed")
        async with self.pool.acquire() as conn:
            await queries.record_failure(conn, item, text, retry_in)
        if retry_in is None:
            log.warning("inbox item %s (%s) failed for good: %s", item.id, item.activity_id, text)

    @asynccontextmanager
    async def _in_order(self, actor_uri: str) -> AsyncIterator[None]:
        """Serialise the items of one actor (asyncio locks are fair: first come, first served)."""
        lock = self._actor_locks.setdefault(actor_uri, asyncio.Lock())
        self._lock_users[actor_uri] += 1
        try:
            async with lock:
                yield
        finally:
            self._lock_users[actor_uri] -= 1
            if not self._lock_users[actor_uri]:
                del self._lock_users[actor_uri], self._actor_locks[actor_uri]
