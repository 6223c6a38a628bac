"""A small generic queue worker: each task claims due rows, processes them, records failures.

Queues are tables (``inbox_items``, ``deliveries``) whose rows carry ``state``, ``attempts``,
``next_attempt_at``, ``locked_until`` and ``last_error``. A task claims rows in one statement
(``FOR UPDATE SKIP LOCKED`` then ``UPDATE … RETURNING``), setting ``locked_until``, so several
workers on several machines never take the same row; a worker that dies leaves rows whose lock
expires and which are then claimed again. This loop is the one place that catches every error:
it hands it to the task, which records it on the row and schedules the retry.
Tests call ``run_once()`` / ``run_until_idle()`` to drive the work one deterministic step at a time.

``run_forever`` runs each task in its own loop, so slow deliveries never hold up the processing of
received activities, and keeps a LISTEN connection apart to be woken by NOTIFY. Each loop streams:
it keeps up to ``concurrency`` items running and at most ``batch_size`` (the window) claimed and
not finished, and claims more as items finish (a quarter of the window at least, to keep claims few),
so one slow item delays nobody but itself. ``run_once()`` still claims one batch and waits for all of it.
It survives the database going away (a restart, a network cut): a claim or the listener that
fails with one of ``fedi.database.UNAVAILABLE_ERRORS`` backs off (RECONNECT_DELAYS) and tries
again. An item whose processing was cut off by the lost connection is kept and processed again
once the database answers: a received activity's transaction was rolled back, so its effects are
applied once; a delivery may already have reached its inbox and is then sent a second time. That is
the in-flight window — at most the window each task had claimed — and receivers deduplicate by id.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Any, Protocol

import asyncpg

from fedi.database import UNAVAILABLE_ERRORS, database_unavailable

log = logging.getLogger(__name__)

WAKE_CHANNEL = "fedi_work"
RECONNECT_DELAYS: tuple[float, ...] = (0.5, 1, 2, 5, 10, 30)


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
        self._wakes = {task.name: asyncio.Event() for task in self.tasks}
        self._interrupted: dict[str, list[Any]] = {task.name: [] for task in self.tasks}

    async def run_once(self) -> int:
        """Claim and process one batch of every task; return how many items were processed."""
        done = 0
        for task in self.tasks:
            done += await self._round(task)
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
        """Work until ``stop`` is set: one loop per task, woken by NOTIFY or a timeout, surviving database restarts."""
        loops = [asyncio.create_task(self._listen(stop))]
        loops += [asyncio.create_task(self._loop(task, stop)) for task in self.tasks]
        try:
            await asyncio.gather(*loops)
        finally:
            for loop in loops:
                loop.cancel()
            await asyncio.gather(*loops, return_exceptions=True)

    def interrupted(self) -> int:
        """How many items wait to be processed again because the database went away under them."""
        return sum(len(items) for items in self._interrupted.values())

    async def _round(self, task: QueueTask) -> int:
        """Process the task's interrupted items once the database answers again, else claim and process a batch."""
        items = self._interrupted[task.name]
        if items:
            async with self.pool.acquire() as conn:
                await conn.execute("SELECT 1")  # back? then retry them (not while it is still away)
            self._interrupted[task.name] = []
        else:
            items = list(await task.claim(self.batch_size))
            if not items:
                return 0
        semaphore = asyncio.Semaphore(task.concurrency)
        await asyncio.gather(*(self._guarded(task, item, semaphore) for item in items))
        return len(items)

    async def _loop(self, task: QueueTask, stop: asyncio.Event) -> None:
        """Stream one task's items until ``stop``; back off while the database is unavailable."""
        failures = 0
        while not stop.is_set():
            try:
                if self._interrupted[task.name]:
                    done = await self._round(task)
                else:
                    done = await self._stream(task, stop)
            except Exception as error:
                if not database_unavailable(error):
                    raise
                failures += 1
                await self._back_off(f"{task.name}: claiming", error, failures, stop)
                continue
            if self._interrupted[task.name]:
                failures += 1
                await self._back_off(f"{task.name}: processing", None, failures, stop)
                continue
            failures = 0
            if done:
                continue
            wake = self._wakes[task.name]
            wake.clear()
            await _first_of(wake, stop, timeout=self.idle_seconds)

    async def _stream(self, task: QueueTask, stop: asyncio.Event) -> int:
        """Claim and process items, more as others finish, until none is due and none runs; return how many were processed.

        Stops claiming once ``stop`` is set or an item was interrupted, and returns when the running ones are done.
        """
        window = max(self.batch_size, 1)
        refill = max(1, window // 4)
        semaphore = asyncio.Semaphore(task.concurrency)
        wake = self._wakes[task.name]
        running: set[asyncio.Task[None]] = set()
        finished = asyncio.Event()
        processed = 0
        exhausted = False

        def on_done(item_task: asyncio.Task[None]) -> None:
            nonlocal processed
            running.discard(item_task)
            processed += 1
            finished.set()

        try:
            while not stop.is_set() and not self._interrupted[task.name]:
                free = window - len(running)
                if not exhausted and (free >= refill or not running):
                    wake.clear()  # work queued after this claim wakes the loop
                    items = await task.claim(free)
                    for item in items:
                        item_task = asyncio.create_task(self._guarded(task, item, semaphore))
                        running.add(item_task)
                        item_task.add_done_callback(on_done)
                    exhausted = len(items) < free
                    continue
                if not running:
                    break
                finished.clear()
                if exhausted:  # nothing more was due: claim again once woken, or once these are done
                    await _first_of(finished, wake, stop, timeout=self.idle_seconds)
                    exhausted = finished.is_set() and not wake.is_set()
                else:
                    await finished.wait()
        finally:
            if running:
                await asyncio.gather(*running)
        return processed

    async def _listen(self, stop: asyncio.Event) -> None:
        """Keep a connection LISTENing for NOTIFY until ``stop``; reconnect when it is lost."""
        failures = 0
        while not stop.is_set():
            try:
                async with self.pool.acquire() as listener:
                    await listener.add_listener(WAKE_CHANNEL, self._on_notify)
                    try:
                        if failures:
                            log.info("worker: listening for work again")
                            self._on_notify()  # work may have been queued while we were away
                        failures = 0
                        while not stop.is_set() and not listener.is_closed():
                            await _first_of(stop, timeout=self.idle_seconds)
                    finally:
                        with contextlib.suppress(*UNAVAILABLE_ERRORS):
                            await listener.remove_listener(WAKE_CHANNEL, self._on_notify)
                if stop.is_set():
                    return
                raise asyncpg.exceptions.ConnectionDoesNotExistError("the LISTEN connection was closed")
            except Exception as error:
                if not database_unavailable(error):
                    raise
                failures += 1
                await self._back_off("listening", error, failures, stop)

    async def _back_off(self, what: str, error: BaseException | None, failures: int, stop: asyncio.Event) -> None:
        """Wait before trying again (longer after each failure), or until ``stop``."""
        delay = RECONNECT_DELAYS[min(failures, len(RECONNECT_DELAYS)) - 1]
        reason = f"{type(error).__name__}: {error}" if error is not None else "the connection was lost"
        log.warning("worker: %s: the database is unavailable (%s); trying again in %.1f s", what, reason, delay)
        await _first_of(stop, timeout=delay)

    def _on_notify(self, *args: object) -> None:
        for wake in self._wakes.values():
            wake.set()

    async def _guarded(self, task: QueueTask, item: Any, semaphore: asyncio.Semaphore) -> None:
        async with semaphore:
            try:
                try:
                    await task.process(item)
                except asyncio.CancelledError:
                    raise
                except Exception as error:  # the worker loop is the one place that catches everything
                    if database_unavailable(error):
                        raise
                    log.exception("%s: item failed", task.name)
                    await task.failed(item, error)
            except asyncio.CancelledError:
                raise
            except Exception as error:
                if not database_unavailable(error):
                    raise
                log.warning("%s: the database went away while processing an item (%s): keeping it", task.name, error)
                self._interrupted[task.name].append(item)


async def _first_of(*events: asyncio.Event, timeout: float) -> None:
    """Wait until one of ``events`` is set or ``timeout`` seconds pass."""
    waiters = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
