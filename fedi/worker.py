"""A small generic queue worker: each task claims due rows, processes them, records failures.

Queues are tables (``inbox_items``, ``deliveries``) whose rows carry ``state``, ``attempts``,
``next_attempt_at``, ``locked_until`` and ``last_error``. A task claims rows in one statement
(``FOR UPDATE SKIP LOCKED`` then ``UPDATE … RETURNING``), setting ``locked_until``, so several
workers on several machines never take the same row; a worker that dies leaves rows whose lock
expires and which are then claimed again. This loop is the one place that catches every error:
it hands it to the task, which records it on the row and schedules the retry.
Tests call ``run_once()`` / ``run_until_idle()`` to drive the work one deterministic step at a time.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any, Protocol

import asyncpg

log = logging.getLogger(__name__)

WAKE_CHANNEL = "fedi_work"


class QueueTask(Protocol):
    """One kind of queued work."""

    name: str
    concurrency: int

    async def claim(self, limit: int) -> Sequence[Any]:
        """Lock and return up to ``limit`` due items."""

    async def process(self, item: Any) -> None:
        """Do the work of one item and record its outcome."""

    async def failed(self, item: Any, error: BaseException) -> None:
        """Record an unexpected error on the item and schedule its retry."""


def retry_delay(delays: Sequence[float], attempts: int) -> float | None:
    """Seconds until the next try after ``attempts`` failed ones, from ``delays``; None once they are used up."""
    return float(delays[attempts - 1]) if 1 <= attempts <= len(delays) else None


async def notify_work(conn: asyncpg.Connection) -> None:
    """Wake idle workers (call after queueing work; delivered at commit)."""
    await conn.execute(f"NOTIFY {WAKE_CHANNEL}")


class Worker:
    """Runs queue tasks: step by step in tests, in a loop in ``fedi worker`` and ``fedi serve``."""

    def __init__(self, pool: asyncpg.Pool, tasks: Sequence[QueueTask], *, batch_size: int = 100, idle_seconds: float = 1.0) -> None:
        self.pool = pool
        self.tasks = list(tasks)
        self.batch_size = batch_size
        self.idle_seconds = idle_seconds
        self._wake = asyncio.Event()

    async def run_once(self) -> int:
        """Claim and process one batch of every task; return how many items were processed."""
        done = 0
        for task in self.tasks:
            items = await task.claim(self.batch_size)
            if not items:
                continue
            semaphore = asyncio.Semaphore(task.concurrency)
            await asyncio.gather(*(self._guarded(task, item, semaphore) for item in items))
            done += len(items)
        return done

    async def run_until_idle(self, max_rounds: int = 1000) -> int:
        """Run batches until no task has due work (or ``max_rounds``); return the items processed."""
        total = 0
        for _ in range(max_rounds):
            done = await self.run_once()
            if done == 0:
                return total
            total += done
        return total

    async def run_forever(self, stop: asyncio.Event) -> None:
        """Work until ``stop`` is set, sleeping between empty rounds until woken by NOTIFY or a timeout."""
        async with self.pool.acquire() as listener:
            await listener.add_listener(WAKE_CHANNEL, self._on_notify)
            try:
                while not stop.is_set():
                    if await self.run_once():
                        continue
                    self._wake.clear()
                    waiters = [asyncio.ensure_future(self._wake.wait()), asyncio.ensure_future(stop.wait())]
                    await asyncio.wait(waiters, timeout=self.idle_seconds, return_when=asyncio.FIRST_COMPLETED)
                    for waiter in waiters:
                        waiter.cancel()
            finally:
                await listener.remove_listener(WAKE_CHANNEL, self._on_notify)

    def _on_notify(self, *args: object) -> None:
        self._wake.set()

    async def _guarded(self, task: QueueTask, item: Any, semaphore: asyncio.Semaphore) -> None:
        async with semaphore:
            try:
                await task.process(item)
            except asyncio.CancelledError:
                raise
            except Exception as error:  # the worker loop is the one place that catches everything
                log.exception("%s: item failed", task.name)
                await task.failed(item, error)
