"""Delivering queued activities: the ``deliveries`` queue task, its outcomes and retry schedule.

Work done once is kept: each activity's JSON body is serialised and digested once (and kept for the
next claims), each sender's key is decrypted and parsed once (and kept while it is the active key).
Each delivery is then signed (draft-cavage, as Mastodon expects) and POSTed. Results are recorded
in batches: a finished delivery waits a few milliseconds (FLUSH_DELAY) for others, and they are
all written with one statement; ``process`` returns only once its result is written, so a crash
between sending and recording repeats no more than the worker's claimed window. What happens next depends only on the kind of
result, in the OUTCOMES table. Retries follow RETRY_DELAYS (±10 % jitter, about a week in all, as
Mastodon does) and then give up; a ``Retry-After`` on a 429 or 503 pushes the next attempt back
further (at most a day). A host whose deliveries have kept failing for HOST_FAILING_LIMIT is paused
for HOST_PAUSE: its pending deliveries wait, new ones are skipped, and when the pause ends one probe
goes through. Any success, or any activity received from the host (``mark_host_available``), clears it.
A delivery whose inbox the instance has blocked since it was queued is ``skipped`` when claimed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import Any

import asyncpg

from actors.blocks import blocked_inboxes
from fedi.http_client import FetchError, ForbiddenAddress, HttpClient, HttpResponse, UnsupportedScheme
from fedi.metrics import count_delivery
from keys.keypairs import KeyVault
from keys.queries import active_keys
from keys.signers import RequestSigner
from outbox import delivery_queries as queries
from keys.digests import make_digest
from outbox.delivery_queries import ClaimedDelivery, Finished, HostEffect

log = logging.getLogger(__name__)

RETRY_DELAYS: tuple[int, ...] = (60, 300, 900, 1800, 3600, 7200, 14400, 28800, 43200) + (86400,) * 6
JITTER = 0.10
RETRY_AFTER_CAP = 86400
RETRY_AFTER_STATUSES = frozenset({429, 503})
HOST_FAILING_LIMIT = timedelta(days=3)
HOST_PAUSE = timedelta(days=1)
BODY_CACHE_SIZE = 64
SIGNER_CACHE_SIZE = 256
FLUSH_DELAY = 0.005
FLUSH_SIZE = 200
DEADLOCK_RETRIES = 3
ERROR_TEXT_LIMIT = 200
HEADERS = {
    "Content-Type": "application/activity+json",
    "Accept": 'application/activity+json, application/ld+json; profile="https://www.w3.org/ns/activitystreams"',
}

Clock = Callable[[], datetime]


@dataclass(frozen=True)
class Outcome:
    """What a kind of result does to the delivery (``pending``: try again) and to its host's health."""

    state: str
    host: HostEffect
    unfollow: bool = False


OUTCOMES: dict[str, Outcome] = {
    "accepted": Outcome("delivered", "up"),  # 2xx
    "gone": Outcome("failed", "up", unfollow=True),  # 410: a personal inbox's owner is gone
    "refused": Outcome("failed", "up"),  # other 4xx; 3xx (a POST is not redirected)
    "busy": Outcome("pending", None),  # 429: up, but asking us to slow down
    "server error": Outcome("pending", "down"),  # 408, 5xx
    "unreachable": Outcome("pending", "down"),  # timeout, refused or reset connection, broken response
    "undeliverable": Outcome("failed", None),  # forbidden address, invalid URL, sender without a key
    "our error": Outcome("pending", None),  # an unexpected error on our side
}
UNDELIVERABLE_ERRORS = (ForbiddenAddress, UnsupportedScheme)
BLOCKED_ERROR = "the instance blocks this inbox's domain or owner"


def kind_of_status(status: int) -> str:
    """The kind of result an HTTP status from an inbox is."""
    if 200 <= status < 300:
        return "accepted"
    if status == 410:
        return "gone"
    if status == 429:
        return "busy"
    if status == 408 or status >= 500:
        return "server error"
    return "refused"


def kind_of_error(error: FetchError) -> str:
    """The kind of result a failed request is (a plain FetchError means the URL is not valid)."""
    return "undeliverable" if type(error) is FetchError or isinstance(error, UNDELIVERABLE_ERRORS) else "unreachable"


def retry_delay(attempts: int, rng: random.Random) -> float | None:
    """Seconds until the next try after ``attempts`` failed ones (with jitter), or None when the schedule is spent."""
    if attempts > len(RETRY_DELAYS):
        return None
    return RETRY_DELAYS[attempts - 1] * rng.uniform(1 - JITTER, 1 + JITTER)


def retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds a ``Retry-After`` value (seconds or an HTTP date) asks to wait, at most a day."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        seconds = float(value)
    else:
        try:
            moment = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).timestamp() - now.timestamp()
    return min(max(seconds, 0.0), RETRY_AFTER_CAP)


def serialise(payload: dict[str, Any]) -> bytes:
    """An activity's JSON body as sent."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


@dataclass(frozen=True)
class Body:
    """An activity as sent: its serialised JSON and that body's ``Digest`` header value."""

    content: bytes
    digest: str


@dataclass(frozen=True)
class Delivery:
    """A claimed delivery with what sending it takes: the body and its sender's signer (shared with others)."""

    row: ClaimedDelivery
    body: Body | None
    signer: RequestSigner | None


@dataclass(frozen=True)
class Attempt:
    """The result of one attempt: its kind, the status if any, an error text and a requested wait."""

    kind: str
    status: int | None = None
    error: str | None = None
    wait: float | None = None


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


async def mark_host_available(conn: asyncpg.Connection, host: str) -> bool:
    """Clear a host's failures and pause (it just talked to us); return whether it had any."""
    return await queries.clear_host_failures(conn, host)


class DeliveryTask:
    """The queue task that sends outgoing activities to remote inboxes."""

    name = "deliveries"

    def __init__(
        self,
        pool: asyncpg.Pool,
        http: HttpClient,
        vault: KeyVault,
        *,
        concurrency: int = 50,
        lock_seconds: float = 120,
        timeout: float | None = None,
        clock: Clock = _utcnow,
        rng: random.Random | None = None,
    ) -> None:
        self.pool = pool
        self.http = http
        self.vault = vault
        self.concurrency = concurrency
        self.lock_seconds = lock_seconds
        self.timeout = timeout
        self.clock = clock
        self.rng = rng or random.Random()
        self._bodies: OrderedDict[int, Body] = OrderedDict()
        self._signers: OrderedDict[str, RequestSigner] = OrderedDict()
        self._results = ResultBuffer(self._write_results)

    async def claim(self, limit: int) -> Sequence[Delivery]:
        """Lock up to ``limit`` due deliveries and prepare their bodies and signers."""
        async with self.pool.acquire() as conn:
            rows: list[ClaimedDelivery] = []
            while not rows:  # a batch of blocked inboxes only is skipped and the next one claimed
                claimed = await queries.claim_deliveries(conn, limit, self.lock_seconds)
                if not claimed:
                    return []
                rows = await self._skip_blocked(conn, claimed)
            bodies = await self._load_bodies(conn, {row.outbox_activity_id for row in rows})
            keys = await active_keys(conn, sorted({row.actor_id for row in rows}))
        signers = {
            actor_id: self._signer(key.key_id, key.private_key_encrypted)
            for actor_id, key in keys.items()
            if key.private_key_encrypted is not None
        }
        return [Delivery(row, bodies.get(row.outbox_activity_id), signers.get(row.actor_id)) for row in rows]

    async def process(self, item: Delivery) -> None:
        """Send one delivery and record the outcome."""
        await self._record(item.row, await self._attempt(item))

    async def failed(self, item: Delivery, error: BaseException) -> None:
        """Record an unexpected error and schedule a retry."""
        await self._record(item.row, Attempt("our error", error=f"{type(error).__name__}: {error}"))

    async def _attempt(self, item: Delivery) -> Attempt:
        if item.body is None or item.signer is None:
            return Attempt("undeliverable", error="the sender has no private key to sign with")
        try:
            response = await self.http.post(
                item.row.inbox_url, item.body.content, HEADERS, timeout=self.timeout,
                sign=item.signer.for_body(item.body.digest),
            )
        except FetchError as error:
            return Attempt(kind_of_error(error), error=error.reason)
        kind = kind_of_status(response.status)
        if kind == "accepted":
            return Attempt(kind, response.status)
        wait = None
        if response.status in RETRY_AFTER_STATUSES:
            wait = retry_after(response.headers.get("Retry-After"), self.clock())
        return Attempt(kind, response.status, _describe(response), wait)

    async def _record(self, row: ClaimedDelivery, attempt: Attempt) -> None:
        """Count the result and wait until it is written (with the others finished meanwhile)."""
        outcome = OUTCOMES[attempt.kind]
        state, error, retry_in = outcome.state, attempt.error, None
        if state == "pending":
            retry_in = retry_delay(row.attempts, self.rng)
            if retry_in is None:
                state, error = "failed", f"gave up after {row.attempts} attempts: {error}"
            elif attempt.wait is not None:
                retry_in = max(retry_in, attempt.wait)
        log.log(
            logging.DEBUG if state == "delivered" else logging.INFO,
            "delivery %s to %s: %s, %s (%s)", row.id, row.inbox_url, attempt.kind, state, error or attempt.status,
        )
        count_delivery("retry" if state == "pending" else "gone" if attempt.kind == "gone" else state)
        await self._results.add(Finished(row, state, retry_in, attempt.status, error, outcome.host), outcome.unfollow)

    async def _write_results(self, results: Sequence[tuple[Finished, bool]]) -> None:
        """Write finished attempts in one statement (with the follows of gone inboxes, in one transaction)."""
        gone = sorted({result.delivery.inbox_url for result, unfollow in results if unfollow})
        paused: list[queries.Host] = []
        removed = 0
        for retry in range(DEADLOCK_RETRIES):
            try:
                async with self.pool.acquire() as conn:
                    async with conn.transaction() if gone else contextlib.nullcontext():
                        paused = await self._finish(conn, [result for result, _ in results])
                        removed = await queries.remove_follows_of_personal_inboxes(conn, gone) if gone else 0
                break
            except asyncpg.exceptions.DeadlockDetectedError:  # two workers touching the same hosts in another order
                if retry == DEADLOCK_RETRIES - 1:
                    raise
        if removed:
            log.info("%s gone: removed %d follows of our actors by their owners", ", ".join(gone), removed)
        if paused:
            async with self.pool.acquire() as conn:
                for host in paused:
                    assert host.unavailable_until is not None
                    deferred = await queries.defer_host_deliveries(conn, host.host, host.unavailable_until)
                    log.warning(
                        "host %s has failed since %s: paused until %s (%d deliveries wait)",
                        host.host, host.failing_since, host.unavailable_until, deferred,
                    )

    async def _finish(self, conn: asyncpg.Connection, results: Sequence[Finished]) -> list[queries.Host]:
        return await queries.finish_attempts(
            conn, results, failing_limit=HOST_FAILING_LIMIT.total_seconds(), pause=HOST_PAUSE.total_seconds()
        )

    async def _skip_blocked(self, conn: asyncpg.Connection, rows: list[ClaimedDelivery]) -> list[ClaimedDelivery]:
        """Mark the claimed deliveries to inboxes the instance blocks ``skipped``; return the others."""
        blocked = await blocked_inboxes(conn, sorted({row.inbox_url for row in rows}))
        if blocked:
            skipped = [row for row in rows if row.inbox_url in blocked]
            for row in skipped:
                log.info("delivery %s to %s: skipped, blocked by this instance", row.id, row.inbox_url)
            await self._finish(conn, [Finished(row, "skipped", None, None, BLOCKED_ERROR, None) for row in skipped])
            count_delivery("skipped", len(skipped))
        return [row for row in rows if row.inbox_url not in blocked]

    def _signer(self, key_id: str, private_key_encrypted: bytes) -> RequestSigner:
        """The signer of a key, its private key decrypted and parsed once (kept for the next claims)."""
        signer = self._signers.get(key_id)
        if signer is None:
            signer = self._signers[key_id] = RequestSigner(key_id, self.vault.decrypt(private_key_encrypted))
            while len(self._signers) > SIGNER_CACHE_SIZE:
                self._signers.popitem(last=False)
        self._signers.move_to_end(key_id)
        return signer

    async def _load_bodies(self, conn: asyncpg.Connection, activity_ids: set[int]) -> dict[int, Body]:
        """Each activity's body, serialised and digested once and kept for the next claims."""
        missing = sorted(activity_ids - self._bodies.keys())
        for activity in await queries.outbox_activities(conn, missing) if missing else []:
            content = serialise(activity.payload)
            self._bodies[activity.id] = Body(content, make_digest(content))
        found = {i: self._bodies[i] for i in activity_ids if i in self._bodies}
        for activity_id in found:
            self._bodies.move_to_end(activity_id)
        while len(self._bodies) > BODY_CACHE_SIZE:
            self._bodies.popitem(last=False)
        return found


def _describe(response: HttpResponse) -> str:
    """A short error text for a non-2xx response."""
    text = response.body[:ERROR_TEXT_LIMIT].decode("utf-8", "replace").strip()
    return f"HTTP {response.status}" + (f": {text}" if text else "")


class ResultBuffer:
    """Collects finished attempts for FLUSH_DELAY seconds (or FLUSH_SIZE of them) and writes them together.

    ``add`` returns once its result is written, or raises what writing it raised.
    """

    def __init__(self, write: Callable[[Sequence[tuple[Finished, bool]]], Awaitable[None]]) -> None:
        self._write = write
        self._waiting: list[tuple[tuple[Finished, bool], asyncio.Future[None]]] = []
        self._full = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None

    async def add(self, result: Finished, unfollow: bool) -> None:
        """Write ``result`` with the others finished about now; ``unfollow``: its inbox's owner is gone."""
        written: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append(((result, unfollow), written))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_all())
        elif len(self._waiting) >= FLUSH_SIZE:
            self._full.set()
        await asyncio.shield(written)  # a cancelled caller does not take the others' write down with it

    async def _write_all(self) -> None:
        while self._waiting:
            if len(self._waiting) < FLUSH_SIZE:
                self._full.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._full.wait(), FLUSH_DELAY)
            batch, self._waiting = self._waiting[:FLUSH_SIZE], self._waiting[FLUSH_SIZE:]
            try:
                await self._write([result for result, _ in batch])
            except Exception as error:  # handed to each caller, whose worker loop decides
                for _, written in batch:
                    if not written.done():
                        written.set_exception(error)
            else:
                for _, written in batch:
                    if not written.done():
                        written.set_result(None)
