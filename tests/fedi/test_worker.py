"""The generic worker: batches, bounded concurrency, errors recorded by the task, NOTIFY wake-up."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

import asyncpg
import pytest

from fedi.database import create_pool
from fedi.worker import Worker, notify_work


class ListTask:
    """Work items from a list; item "boom" fails."""

    name = "list"

    def __init__(self, items: list[str], concurrency: int = 2) -> None:
        self.items = items
        self.concurrency = concurrency
        self.done: list[str] = []
        self.failures: list[tuple[str, str]] = []
        self.running = 0
        self.peak = 0

    async def claim(self, limit: int) -> Sequence[str]:
        taken, self.items = self.items[:limit], self.items[limit:]
        return taken

    async def process(self, item: str) -> None:
        self.running += 1
        self.peak = max(self.peak, self.running)
        await asyncio.sleep(0.01)
        self.running -= 1
        if item == "boom":
            raise RuntimeError("it broke")
        self.done.append(item)

    async def failed(self, item: str, error: BaseException) -> None:
        self.failures.append((item, str(error)))


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(database_url, max_size=3)
    yield pool
    await pool.close()


async def test_run_once_takes_one_batch_with_bounded_concurrency(pool: asyncpg.Pool) -> None:
    task = ListTask([f"i{n}" for n in range(7)], concurrency=2)
    worker = Worker(pool, [task], batch_size=5)
    assert await worker.run_once() == 5
    assert task.peak == 2 and len(task.done) == 5
    assert await worker.run_until_idle() == 2
    assert await worker.run_once() == 0


async def test_a_failing_item_is_handed_to_the_task_and_the_rest_go_on(pool: asyncpg.Pool, caplog: pytest.LogCaptureFixture) -> None:
    task = ListTask(["a", "boom", "b"])
    await Worker(pool, [task]).run_until_idle()
    assert sorted(task.done) == ["a", "b"]
    assert task.failures == [("boom", "it broke")]


async def test_run_forever_wakes_on_notify_and_stops(pool: asyncpg.Pool) -> None:
    task = ListTask([])
    worker = Worker(pool, [task], idle_seconds=30)
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run_forever(stop))
    await asyncio.sleep(0.1)
    task.items.append("late")
    async with pool.acquire() as conn:
        await notify_work(conn)
    for _ in range(100):
        if task.done:
            break
        await asyncio.sleep(0.02)
    assert task.done == ["late"]  # woken long before the 30 s idle timeout
    stop.set()
    await asyncio.wait_for(running, 5)
