"""Group commit for accepted activities: many inbox requests share one transaction and one WAL flush.

A request hands its activity to the process's ``InboxWriter`` and waits. Whenever activities are
queued and no flush is running, a flush starts: it takes up to ``max_batch`` of them and stores them
with one statement: ``INSERT … SELECT FROM unnest(…) ON CONFLICT (activity_id) DO NOTHING`` (an id
repeated within the batch is stored once, by its first request), one NOTIFY when any was new, and the
senders' hosts that the delivery side marked failing, whose failure state is then cleared (rarely
needed, so the common batch is one round trip). Only after that commit does each waiting request
learn whether its activity was new or a repeat, so "202 only once stored" still holds. Requests
arriving meanwhile queue up for the next flush, so the batch grows with the load and a lone request
is written at once.

If the database cannot be reached or fails otherwise, every request of the batch fails with
``StoreFailed`` (answered 503, the sender retries). If the batch statement is refused for its data
(a payload PostgreSQL will not take, such as a ``\u0000`` in a string), each activity of the batch
is stored on its own, so one bad activity fails alone (answered 400).
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from starlette.requests import Request

from fedi.database import UNAVAILABLE_ERRORS
from fedi.errors import FediError
from fedi.worker import WAKE_CHANNEL
from inbox import queries
from outbox.deliveries import mark_host_available

log = logging.getLogger(__name__)

MAX_BATCH = 200
# What PostgreSQL refuses because of one activity's data (a payload jsonb cannot hold, a recipient gone).
REFUSED_DATA = (asyncpg.DataError, asyncpg.IntegrityConstraintViolationError)


class StoreFailed(FediError):
    """The activity could not be stored: ``unavailable`` (try again later), or refused for its data."""

    def __init__(self, message: str, *, unavailable: bool) -> None:
        super().__init__(message)
        self.unavailable = unavailable


@dataclass(frozen=True)
class QueuedActivity:
    """One accepted activity on its way to ``inbox_items``; ``host`` is its sender's delivery host."""

    item: queries.NewItem
    host: str | None
    done: asyncio.Future[bool] = field(compare=False)


class InboxWriter:
    """Stores accepted activities for the requests of one process, many per transaction."""

    def __init__(self, pool: asyncpg.Pool, max_batch: int = MAX_BATCH) -> None:
        self.pool = pool
        self.max_batch = max_batch
        self._queue: list[QueuedActivity] = []
        self._flushing: asyncio.Task[None] | None = None

    async def store(self, item: queries.NewItem, host: str | None) -> bool:
        """Store ``item`` (once per activity id); True if it was new, False for a repeat. Waits for the commit."""
        queued = QueuedActivity(item, host, asyncio.get_running_loop().create_future())
        self._queue.append(queued)
        if self._flushing is None or self._flushing.done():
            self._flushing = asyncio.create_task(self._flush_queue())
        return await queued.done  # a client hanging up cancels its wait, not the row's write

    async def _flush_queue(self) -> None:
        while self._queue:
            batch, self._queue = self._queue[: self.max_batch], self._queue[self.max_batch :]
            try:
                stored = await self._write(batch)
            except UNAVAILABLE_ERRORS as error:
                log.warning("inbox: cannot store %d activities: %s: %s", len(batch), type(error).__name__, error)
                _fail(batch, f"the database cannot be reached: {error}", unavailable=True)
            except REFUSED_DATA as error:
                log.info("inbox: a batch of %d was refused (%s); storing each on its own", len(batch), error)
                await self._write_each(batch)
            except Exception as error:  # every waiting request must hear of it, or it would wait forever
                log.exception("inbox: storing %d activities failed", len(batch))
                _fail(batch, f"{type(error).__name__}: {error}", unavailable=True)
            else:
                _resolve(batch, stored)

    async def _write(self, batch: list[QueuedActivity]) -> set[str]:
        """One statement for the whole batch (then the rare failing hosts cleared); the ids stored by it."""
        hosts = sorted({queued.host for queued in batch if queued.host})
        async with self.pool.acquire() as conn:
            stored, failing = await queries.store_items(conn, [queued.item for queued in batch], hosts, WAKE_CHANNEL)
            for host in failing:  # rare: most senders' hosts are not failing
                await mark_host_available(conn, host)
        return stored

    async def _write_each(self, batch: list[QueuedActivity]) -> None:
        for queued in batch:
            try:
                stored = await self._write([queued])
            except UNAVAILABLE_ERRORS as error:
                _fail([queued], f"the database cannot be reached: {error}", unavailable=True)
            except REFUSED_DATA as error:
                log.info("inbox: cannot store %s: %s", queued.item.activity_id, error)
                _fail([queued], f"the activity cannot be stored: {error}", unavailable=False)
            except Exception as error:  # as in _flush_queue: the request must hear of it
                log.exception("inbox: storing %s failed", queued.item.activity_id)
                _fail([queued], f"{type(error).__name__}: {error}", unavailable=True)
            else:
                _resolve([queued], stored)


def _resolve(batch: list[QueuedActivity], stored: set[str]) -> None:
    """Tell each request whether its activity was new: the first of an id stored in this batch is."""
    for queued in batch:
        new = queued.item.activity_id in stored
        stored.discard(queued.item.activity_id)
        if not queued.done.done():
            queued.done.set_result(new)


def _fail(batch: list[QueuedActivity], message: str, *, unavailable: bool) -> None:
    """Fail each request of the batch with its own ``StoreFailed``."""
    for queued in batch:
        if not queued.done.done():
            queued.done.set_exception(StoreFailed(message, unavailable=unavailable))


def new_item(activity: dict[str, Any], body: bytes, actor_uri: str, recipient_id: int | None) -> queries.NewItem:
    """The row of an accepted activity; its payload is the body as received (JSON text PostgreSQL parses again).

    A body that is not UTF-8 (JSON may also come as UTF-16 or UTF-32) is written out again from ``activity``.
    """
    try:
        payload = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        payload = json.dumps(activity, separators=(",", ":"), ensure_ascii=False)
    return queries.NewItem(activity["id"], activity["type"], actor_uri, recipient_id, payload)


def inbox_writer(request: Request) -> InboxWriter:
    """The app's writer, made on first use for the app's database pool."""
    state = request.app.state
    writer: InboxWriter | None = getattr(state, "inbox_writer", None)
    if writer is None or writer.pool is not request.state.pool:
        writer = state.inbox_writer = InboxWriter(request.state.pool)
    return writer
