"""SQL around publishing from the client API: signatures, the application, the audit log, idempotency keys."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg


IDEMPOTENCY_HOURS = 1


@dataclass(frozen=True)
class IdempotentResult:
    """What a request with the same Idempotency-Key produced: a post or a scheduled status."""

    post_id: int | None
    scheduled_status_id: int | None


@dataclass(frozen=True)
class AuditEntry:
    """One line of the audit log."""

    id: int
    staff_id: int | None
    staff_username: str
    actor_id: int
    action: str
    post_id: int | None
    application_id: int | None
    at: datetime


async def set_signatures(conn: asyncpg.Connection, actor_id: int, on: bool) -> None:
    """Switch a department's staff signatures on or off."""
    await conn.execute(
        """INSERT INTO department_settings (actor_id, append_signature) VALUES ($1, $2)
           ON CONFLICT (actor_id) DO UPDATE SET append_signature = $2, updated_at = now()""",
        actor_id, on,
    )


async def signatures_on(conn: asyncpg.Connection, actor_id: int) -> bool:
    """Whether a department's posts are signed by the staff member who wrote them."""
    return bool(await conn.fetchval("SELECT append_signature FROM department_settings WHERE actor_id = $1", actor_id))


async def set_signature_name(conn: asyncpg.Connection, staff_id: int, name: str) -> None:
    """Set the name a staff member signs with ('' to sign with the full name)."""
    await conn.execute("UPDATE staff SET signature_name = $2, updated_at = now() WHERE id = $1", staff_id, name)


async def set_application(conn: asyncpg.Connection, post_id: int, application_id: int | None) -> None:
    """Record the application a post was written with."""
    await conn.execute("UPDATE posts SET application_id = $2 WHERE id = $1", post_id, application_id)


async def audit_entries(conn: asyncpg.Connection, actor_id: int, limit: int = 100) -> list[AuditEntry]:
    """A department's audit log, newest first."""
    rows = await conn.fetch(
        """SELECT id, staff_id, staff_username, actor_id, action, post_id, application_id, at FROM audit_log
           WHERE actor_id = $1 ORDER BY id DESC LIMIT $2""",
        actor_id, limit,
    )
    return [AuditEntry(**dict(r)) for r in rows]


async def claim_idempotency_key(conn: asyncpg.Connection, staff_id: int, actor_id: int, key: str) -> IdempotentResult | None:
    """Take a key for this request (None), or return what an earlier request with it produced.

    Called inside the publishing transaction: a concurrent request with the same key waits on the
    row until the first commits (then gets its result) or rolls back (then takes the key itself).
    """
    await conn.execute(
        f"""DELETE FROM idempotency_keys WHERE staff_id = $1 AND actor_id = $2
              AND created_at < now() - interval '{IDEMPOTENCY_HOURS} hours'""",
        staff_id, actor_id,
    )
    taken = await conn.fetchval(
        """INSERT INTO idempotency_keys (staff_id, actor_id, key) VALUES ($1, $2, $3)
           ON CONFLICT DO NOTHING RETURNING true""",
        staff_id, actor_id, key,
    )
    if taken:
        return None
    row = await conn.fetchrow(
        "SELECT post_id, scheduled_status_id FROM idempotency_keys WHERE staff_id = $1 AND actor_id = $2 AND key = $3",
        staff_id, actor_id, key,
    )
    return IdempotentResult(None, None) if row is None else IdempotentResult(**dict(row))


async def settle_idempotency_key(
    conn: asyncpg.Connection, staff_id: int, actor_id: int, key: str, *, post_id: int | None = None,
    scheduled_status_id: int | None = None,
) -> None:
    """Record what the request holding the key produced."""
    await conn.execute(
        """UPDATE idempotency_keys SET post_id = $4, scheduled_status_id = $5
           WHERE staff_id = $1 AND actor_id = $2 AND key = $3""",
        staff_id, actor_id, key, post_id, scheduled_status_id,
    )


async def staff_role(conn: asyncpg.Connection, staff_id: int, actor_id: int) -> str | None:
    """A staff member's role in a department, or None when they are not a member."""
    return await conn.fetchval("SELECT role FROM memberships WHERE staff_id = $1 AND actor_id = $2", staff_id, actor_id)
