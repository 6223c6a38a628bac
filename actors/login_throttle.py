"""The staff login forms' brake: 5 failures per client address per 5 minutes, 10 per username per hour.

Every attempt is recorded in ``login_attempts``. Once a limit is reached, further attempts are refused
(429 with ``Retry-After``) without checking the password, until the oldest counted failure leaves
its window.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import asyncpg

from actors import login_queries as queries

ADDRESS_LIMIT = 5
ADDRESS_WINDOW = timedelta(minutes=5)
USERNAME_LIMIT = 10
USERNAME_WINDOW = timedelta(hours=1)
MAX_USERNAME = 200  # longer names are cut, in the record and in the count alike


@dataclass(frozen=True)
class Refusal:
    """Why a login attempt is refused, and how many seconds until the next one may succeed."""

    reason: str
    retry_after: int


def _refusal(window: queries.FailureWindow, span: timedelta, reason: str) -> Refusal:
    now = datetime.now(timezone.utc)
    free_at = (window.oldest or now) + span
    return Refusal(reason, max(1, math.ceil((free_at - now).total_seconds())))


async def login_refusal(conn: asyncpg.Connection, client_address: str, username: str) -> Refusal | None:
    """A Refusal when this address or this username has failed too often lately, else None."""
    by_address = await queries.failures_from_address(conn, client_address, ADDRESS_WINDOW)
    if by_address.failures >= ADDRESS_LIMIT:
        return _refusal(by_address, ADDRESS_WINDOW, "too many failed logins from your address")
    by_username = await queries.failures_for_username(conn, username[:MAX_USERNAME], USERNAME_WINDOW)
    if by_username.failures >= USERNAME_LIMIT:
        return _refusal(by_username, USERNAME_WINDOW, "too many failed logins for this username")
    return None


async def record_attempt(conn: asyncpg.Connection, client_address: str, username: str, succeeded: bool) -> None:
    """Count one login attempt."""
    await queries.record_login_attempt(conn, client_address, username[:MAX_USERNAME], succeeded)
