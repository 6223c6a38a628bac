"""The audit log: which staff member did what to which of a department's posts, and with which app."""

from __future__ import annotations

import asyncpg


async def record(
    conn: asyncpg.Connection, staff_id: int, actor_id: int, action: str, post_id: int | None,
    application_id: int | None = None,
) -> None:
    """Add a line to the audit log."""
    await conn.execute(
        """INSERT INTO audit_log (staff_id, staff_username, actor_id, action, post_id, application_id)
           SELECT $1, username, $2, $3, $4, $5 FROM staff WHERE id = $1""",
        staff_id, actor_id, action, post_id, application_id,
    )
