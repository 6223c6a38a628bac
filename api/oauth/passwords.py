"""Setting a staff member's password from the API side: store the new hash and revoke the old tokens."""

from __future__ import annotations

import asyncpg

from actors.login_queries import set_password_hash
from actors.passwords import check_new_password, hash_password
from api.oauth import queries


async def set_password(conn: asyncpg.Connection, staff_id: int, password: str) -> int:
    """Store a staff member's new password and revoke their tokens; return how many were revoked."""
    await set_password_hash(conn, staff_id, hash_password(check_new_password(password)))
    return await queries.revoke_staff_tokens(conn, staff_id)
