"""Staff signatures: when a department signs its posts, "— <name>" ends the text of each one."""

from __future__ import annotations

import asyncpg

SIGNATURE_MARK = "— "


def signed(text: str, line: str | None) -> str:
    """``text`` with "— <line>" as its last paragraph (unless it already ends with a signature)."""
    if line is None:
        return text
    last = text.rstrip().rsplit("\n", 1)[-1]
    if last.startswith(SIGNATURE_MARK):
        return text
    return f"{text.rstrip()}\n\n{SIGNATURE_MARK}{line}" if text.strip() else f"{SIGNATURE_MARK}{line}"


async def signature_line(conn: asyncpg.Connection, actor_id: int, staff_id: int) -> str | None:
    """The name to sign posts with (signature name, else full name) when the department signs its posts."""
    row = await conn.fetchrow(
        """SELECT s.signature_name, s.display_name FROM staff s
           JOIN department_settings d ON d.actor_id = $1 AND d.append_signature
           WHERE s.id = $2""",
        actor_id, staff_id,
    )
    if row is None:
        return None
    return (row["signature_name"] or row["display_name"]).strip() or None
