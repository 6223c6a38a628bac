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


class LostConnectionTask(ListTask):
    """A task whose database goes away: claims fail ``claim_failures`` times, the first processing of "cut" too."""

    def __init__(self, items: list[str], claim_failures: int = 0) -> None:
        super().__init__(items)
        self.claim_failures = claim_failures
        self.cut = 0

    async def claim(self, limit: int) -> Sequence[str]:
        if self.claim_failures:
            self.claim_failures -= 1
            raise asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed in the middle of operation")
        return await super().claim(limit)

    async def process(self, item: str) -> None:
        if item == "cut" and not self.cut:
            self.cut += 1
            raise asyncpg.exceptions.AdminShutdownError("terminating connection due to administrator command")
        await super().process(item)


async def test_an_item_cut_off_by_a_lost_connection_is_processed_again_not_failed(pool: asyncpg.Pool) -> None:
    task = LostConnectionTask(["a", "cut"])
    worker = Worker(pool, [task])
    assert await worker.run_once() == 2
    assert task.done == ["a"] and task.failures == [] and worker.interrupted() == 1
    assert await worker.run_once() == 1  # the database answers again: the item is taken up where it was
    assert task.done == ["a", "cut"] and task.failures == [] and worker.interrupted() == 0


async def test_run_forever_outlives_a_database_that_goes_away(pool: asyncpg.Pool) -> None:
    task = LostConnectionTask(["a", "b"], claim_failures=2)
    worker = Worker(pool, [task], idle_seconds=30)
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run_forever(stop))
    for _ in range(500):
        if len(task.done) == 2:
            break
        await asyncio.sleep(0.02)
    assert sorted(task.done) == ["a", "b"] and not running.done()
    stop.set()
    await asyncio.wait_for(running, 5)


async def test_a_slow_task_does_not_hold_up_another(pool: asyncpg.Pool) -> None:
    released = asyncio.Event()

    class Blocked(ListTask):
        async def process(self, item: str) -> None:
            await released.wait()
            self.done.append(item)

    slow, fast = Blocked(["stuck"]), ListTask(["x"])
    slow.name = "slow"
    worker = Worker(pool, [slow, fast], idle_seconds=30)
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run_forever(stop))
    fast.items.append("y")
    async with pool.acquire() as conn:
        await notify_work(conn)
    for _ in range(250):
        if sorted(fast.done) == ["x", "y"]:
            break
        await asyncio.sleep(0.02)
    assert sorted(fast.done) == ["x", "y"] and slow.done == []  # done while the slow item still waits
    released.set()
    stop.set()
    await asyncio.wait_for(running, 5)
    assert slow.done == ["stuck"]


async def test_run_forever_streams_past_a_slow_item_and_never_claims_more_than_the_window(pool: asyncpg.Pool) -> None:
    released = asyncio.Event()

    class Counting(ListTask):
        """Tracks how many items are claimed and not finished; "stuck" waits until released."""

        def __init__(self, items: list[str]) -> None:
            super().__init__(items, concurrency=2)
            self.outstanding = 0
            self.most_outstanding = 0

        async def claim(self, limit: int) -> Sequence[str]:
            taken = await super().claim(limit)
            self.outstanding += len(taken)
            self.most_outstanding = max(self.most_outstanding, self.outstanding)
            return taken

        async def process(self, item: str) -> None:
            if item == "stuck":
                await released.wait()
            await super().process(item)
            self.outstanding -= 1

    task = Counting(["stuck"] + [f"i{n}" for n in range(20)])
    worker = Worker(pool, [task], batch_size=4, idle_seconds=30)
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run_forever(stop))
    try:
        for _ in range(250):
            if len(task.done) == 20:
                break
            await asyncio.sleep(0.02)
        assert sorted(task.done) == sorted(f"i{n}" for n in range(20))  # not held back until "stuck" is done
        assert task.most_outstanding <= 4 and task.peak == 1  # the other of the two slots is the stuck item's
    finally:
        released.set()
        stop.set()
        await asyncio.wait_for(running, 5)
    assert "stuck" in task.done
