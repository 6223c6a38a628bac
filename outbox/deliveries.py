"""Delivering queued activities: the ``deliveries`` queue task, its outcomes and retry schedule.

A claimed batch is prepared once: each activity's JSON body is serialised once (and kept for the
next batches), each sender's key is loaded and decrypted once. Each delivery is then signed
(draft-cavage, as Mastodon expects) and POSTed. What happens next depends only on the kind of
result, in the OUTCOMES table. Retries follow RETRY_DELAYS (±10 % jitter, about a week in all, as
Mastodon does) and then give up; a ``Retry-After`` on a 429 or 503 pushes the next attempt back
further (at most a day). A host whose deliveries have kept failing for HOST_FAILING_LIMIT is paused
for HOST_PAUSE: its pending deliveries wait, new ones are skipped, and when the pause ends one probe
goes through. Any success, or any activity received from the host (``mark_host_available``), clears it.
A delivery whose inbox the instance has blocked since it was queued is ``skipped`` when claimed.
"""

from __future__ import annotations

import contextlib
import json
import logging
import random
from collections import OrderedDict
from collections.abc import Callable, Sequence
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
from outbox.delivery_queries import ClaimedDelivery, HostEffect

log = logging.getLogger(__name__)

RETRY_DELAYS: tuple[int, ...] = (60, 300, 900, 1800, 3600, 7200, 14400, 28800, 43200) + (86400,) * 6
JITTER = 0.10
RETRY_AFTER_CAP = 86400
RETRY_AFTER_STATUSES = frozenset({429, 503})
HOST_FAILING_LIMIT = timedelta(days=3)
HOST_PAUSE = timedelta(days=1)
BODY_CACHE_SIZE = 64
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
class Delivery:
    """A claimed delivery with what sending it takes: the body and its sender's signer (shared in a batch)."""

    row: ClaimedDelivery
    body: bytes | None
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
        self._bodies: OrderedDict[int, bytes] = OrderedDict()

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
            actor_id: RequestSigner(key.key_id, self.vault.decrypt(key.private_key_encrypted))
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
                item.row.inbox_url, item.body, HEADERS, timeout=self.timeout, sign=item.signer
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
        async with self.pool.acquire() as conn:
            async with conn.transaction() if outcome.unfollow else contextlib.nullcontext():
                host = await queries.finish_attempt(
                    conn, row, state=state, retry_in=retry_in, status=attempt.status, error=error,
                    host_effect=outcome.host, failing_limit=HOST_FAILING_LIMIT.total_seconds(),
                    pause=HOST_PAUSE.total_seconds(),
                )
                if outcome.unfollow:
                    removed = await queries.remove_follows_of_personal_inbox(conn, row.inbox_url)
                    if removed:
                        log.info("%s is gone: removed %d follows of our actors by its owner", row.inbox_url, removed)
            if host is not None and host.paused and host.unavailable_until is not None:
                deferred = await queries.defer_host_deliveries(conn, host.host, host.unavailable_until)
                log.warning(
                    "host %s has failed since %s: paused until %s (%d deliveries wait)",
                    host.host, host.failing_since, host.unavailable_until, deferred,
                )

    async def _skip_blocked(self, conn: asyncpg.Connection, rows: list[ClaimedDelivery]) -> list[ClaimedDelivery]:
        """Mark the claimed deliveries to inboxes the instance blocks ``skipped``; return the others."""
        blocked = await blocked_inboxes(conn, sorted({row.inbox_url for row in rows}))
        for row in rows:
            if row.inbox_url in blocked:
                log.info("delivery %s to %s: skipped, blocked by this instance", row.id, row.inbox_url)
                await queries.finish_attempt(
                    conn, row, state="skipped", retry_in=None, status=None, error=BLOCKED_ERROR, host_effect=None,
                    failing_limit=HOST_FAILING_LIMIT.total_seconds(), pause=HOST_PAUSE.total_seconds(),
                )
        return [row for row in rows if row.inbox_url not in blocked]

    async def _load_bodies(self, conn: asyncpg.Connection, activity_ids: set[int]) -> dict[int, bytes]:
        """Each activity's body, serialised once and kept for the next batches."""
        missing = sorted(activity_ids - self._bodies.keys())
        for activity in await queries.outbox_activities(conn, missing) if missing else []:
            self._bodies[activity.id] = serialise(activity.payload)
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
