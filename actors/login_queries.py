"""SQL for staff logins: the password hash looked up by name, and the record of login attempts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg


@dataclass(frozen=True)
class StaffLogin:
    """What a login form checks: a staff member's id, name and password hash (None: no password set)."""

    id: int
    username: str
    password_hash: str | None


@dataclass(frozen=True)
class FailureWindow:
    """Failed logins within a window and when the oldest of them happened."""

    failures: int
    oldest: datetime | None


async def staff_login(conn: asyncpg.Connection, username: str) -> StaffLogin | None:
    """A staff member's id and password hash by login name (case-insensitive)."""
    row = await conn.fetchrow(
        "SELECT id, username, password_hash FROM staff WHERE lower(username) = lower($1)", username
    )
    return None if row is None else StaffLogin(**dict(row))


async def set_password_hash(conn: asyncpg.Connection, staff_id: int, password_hash: str) -> None:
    """Store a staff member's new password hash."""
    await conn.execute(
        "UPDATE staff SET password_hash = $2, updated_at = now() WHERE id = $1", staff_id, password_hash
    )


async def record_login_attempt(conn: asyncpg.Connection, client_address: str, username: str, succeeded: bool) -> None:
    """Remember one login attempt, and forget this address's attempts older than a day."""
    await conn.execute(
        "INSERT INTO login_attempts (client_address, username, succeeded) VALUES ($1, lower($2), $3)",
        client_address, username, succeeded,
    )
    await conn.execute(
        "DELETE FROM login_attempts WHERE client_address = $1 AND attempted_at < now() - interval '1 day'",
        client_address,
    )


async def failures_from_address(conn: asyncpg.Connection, client_address: str, window: timedelta) -> FailureWindow:
    """Failed logins from one client address within ``window``."""
    row = await conn.fetchrow(
        """SELECT count(*) AS failures, min(attempted_at) AS oldest FROM login_attempts
           WHERE client_address = $1 AND NOT succeeded AND attempted_at > now() - $2::interval""",
        client_address, window,
    )
    return FailureWindow(row["failures"], row["oldest"])


async def failures_for_username(conn: asyncpg.Connection, username: str, window: timedelta) -> FailureWindow:
    """Failed logins naming one username (case-insensitive) within ``window``."""
    row = await conn.fetchrow(
        """SELECT count(*) AS failures, min(attempted_at) AS oldest FROM login_attempts
           WHERE lower(username) = lower($1) AND NOT succeeded AND attempted_at > now() - $2::interval""",
        username, window,
    )
    return FailureWindow(row["failures"], row["oldest"])
