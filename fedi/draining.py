"""Stopping a queue worker without losing or stranding work: finish what started, hand back the rest.

``draining_worker`` wraps the releasable queue tasks so that once ``stopping`` is set nothing new is
claimed or started; ``Draining.release`` then unlocks the rows claimed but not finished (a row never
started is not counted as an attempt), so another worker takes them at once instead of waiting for
the lock to expire. ``fedi worker`` and the in-process worker of ``fedi serve`` both stop this way.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import asyncpg

from fedi.worker import QueueTask, Worker
from outbox import queue_queries

# Queue tasks whose claimed rows can be handed back: how to release them, and each item's (id, attempts).
RELEASABLE: dict[str, tuple[Callable[..., Awaitable[int]], Callable[[Any], tuple[int, int]]]] = {
    "deliveries": (queue_queries.release_deliveries, lambda item: (item.row.id, item.row.attempts)),
    "inbox": (queue_queries.release_inbox_items, lambda item: (item.id, item.attempts)),
}


class Draining:
    """A queue task that claims nothing once ``stopping`` is set and keeps track of what it has not finished."""

    def __init__(self, task: QueueTask, stopping: asyncio.Event) -> None:
        self.task = task
        self.name = task.name
        self.concurrency = task.concurrency
        self.stopping = stopping
        self.waiting: dict[int, Any] = {}  # claimed, not started
        self.running: dict[int, Any] = {}  # started, not finished

    async def claim(self, limit: int) -> Sequence[Any]:
        """Claim like the task, unless the worker is stopping."""
        if self.stopping.is_set():
            return []
        items = await self.task.claim(limit)
        self.waiting.update((id(item), item) for item in items)
        return items

    async def process(self, item: Any) -> None:
        """Start the item, unless the worker is stopping: then it waits to be released."""
        if self.stopping.is_set():
            return
        self.running[id(item)] = self.waiting.pop(id(item), item)
        await self.task.process(item)
        del self.running[id(item)]  # not reached when cancelled: released as started

    async def failed(self, item: Any, error: BaseException) -> None:
        """Record the error as the task does."""
        self.running.pop(id(item), None)
        await self.task.failed(item, error)

    async def release(self, pool: asyncpg.Pool) -> int:
        """Unlock every claimed item not finished; return how many rows were released."""
        release, claim_of = RELEASABLE[self.name]
        released = 0
        async with pool.acquire() as conn:
            for items, started in ((self.waiting, False), (self.running, True)):
                if items:
                    released += await release(conn, [claim_of(item) for item in items.values()], started=started)
                items.clear()
        return released


def draining_worker(worker: Worker, stopping: asyncio.Event) -> tuple[Worker, list[Draining]]:
    """The same worker with its releasable tasks wrapped in ``Draining``."""
    wrapped = [Draining(task, stopping) for task in worker.tasks if task.name in RELEASABLE]
    by_name = {task.name: task for task in wrapped}
    tasks: list[QueueTask] = [by_name.get(task.name, task) for task in worker.tasks]
    return Worker(worker.pool, tasks, batch_size=worker.batch_size, idle_seconds=worker.idle_seconds), wrapped
