"""Publishing scheduled statuses when they are due: the ``scheduled_statuses`` queue task.

Each claimed row is published in one transaction that also marks it ``published``, after locking the
row again (and skipping it if another worker finished it meanwhile), so a status is published exactly
once however many workers run and whenever they restart. The staff member must still be an editor or
admin of the department when it is due; a draft that can no longer be published (the post replied to
is gone, the staff member left) fails at once with the reason recorded. Unexpected errors are retried:

    attempt 1 fails -> retry in 1 min, then 5 min, 15 min -> attempt 4 fails -> failed
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import asyncpg

from actors.remote import ActorResolver
from api.auth import ROLE_RANK
from api.errors import ApiError
from api.statuses import publishing_queries, scheduling_queries
from api.statuses.scheduling_queries import Scheduled
from fedi.settings import Settings
from fedi import worker

log = logging.getLogger(__name__)

RETRY_DELAYS: tuple[int, ...] = (60, 300, 900)
ERROR_TEXT_LIMIT = 500


def retry_delay(attempts: int) -> float | None:
    """Seconds until the next try after ``attempts`` failed ones, or None when the row has failed for good."""
    return worker.retry_delay(RETRY_DELAYS, attempts)


class ScheduledTask:
    """The queue task that publishes due scheduled statuses."""

    name = "scheduled"

    def __init__(
        self, pool: asyncpg.Pool, resolver: ActorResolver, settings: Settings, *, concurrency: int = 2,
        lock_seconds: float = 300,
    ) -> None:
        self.pool = pool
        self.resolver = resolver
        self.settings = settings
        self.concurrency = concurrency
        self.lock_seconds = lock_seconds

    async def claim(self, limit: int) -> Sequence[Scheduled]:
        """Lock up to ``limit`` due scheduled statuses, earliest first."""
        async with self.pool.acquire() as conn:
            return await scheduling_queries.claim_due(conn, limit, self.lock_seconds)

    async def process(self, item: Scheduled) -> None:
        """Publish the status and mark the row published, in one transaction."""
        # here, not at import: an idle worker need not hold the status composer and its outbox builders
        from api.statuses.publishing import Draft, Writer, publish

        async with self.pool.acquire() as conn, conn.transaction():
            if not await scheduling_queries.lock_claimed(conn, item):
                log.info("scheduled status %s was handled elsewhere", item.id)
                return
            refusal = await self._refusal(conn, item)
            if refusal is None:
                assert item.staff_id is not None
                try:
                    async with conn.transaction():
                        writer = Writer(item.staff_id, item.actor_id, item.application_id)
                        post = await publish(conn, self.resolver, self.settings, writer, Draft.from_params(item.params))
                except ApiError as exc:
                    refusal = exc.message
                else:
                    await scheduling_queries.mark_published(conn, item.id, post.id)
                    log.info("scheduled status %s published as post %s", item.id, post.id)
                    return
            log.warning("scheduled status %s cannot be published: %s", item.id, refusal)
            await scheduling_queries.record_failure(conn, item, refusal[:ERROR_TEXT_LIMIT], None)

    async def failed(self, item: Scheduled, error: BaseException) -> None:
        """Record an unexpected error and schedule the next try (or give up after the last)."""
        retry_in = retry_delay(item.attempts)
        text = f"{type(error).__name__}: {error}"[:ERROR_TEXT_LIMIT]
        async with self.pool.acquire() as conn:
            await scheduling_queries.record_failure(conn, item, text, retry_in)
        if retry_in is None:
            log.warning("scheduled status %s failed for good: %s", item.id, text)

    @staticmethod
    async def _refusal(conn: asyncpg.Connection, item: Scheduled) -> str | None:
        """Why the row's staff member may no longer publish as its department, if they may not."""
        if item.staff_id is None:
            return "the staff member who scheduled it no longer exists"
        role = await publishing_queries.staff_role(conn, item.staff_id, item.actor_id)
        if role is None or ROLE_RANK[role] < ROLE_RANK["editor"]:
            return "the staff member who scheduled it may no longer post as the department"
        return None
