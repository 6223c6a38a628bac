"""SQL for OAuth access tokens: stored as SHA-256 hashes, looked up by hash."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg


@dataclass(frozen=True)
class TokenRecord:
    """A stored token (never the token itself) with the staff member's role in its department."""

    id: int
    application_id: int | None
    staff_id: int | None
    actor_id: int | None
    scopes: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    role: str | None


async def insert_token(
    conn: asyncpg.Connection,
    token_hash: str,
    refresh_token_hash: str | None,
    application_id: int | None,
    staff_id: int | None,
    actor_id: int | None,
    scopes: str,
    expires_at: datetime | None,
) -> int:
    """Store a new token; return its id."""
    return int(
        await conn.fetchval(
            """INSERT INTO oauth_tokens (token_hash, refresh_token_hash, application_id, staff_id, actor_id, scopes, expires_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id""",
            token_hash, refresh_token_hash, application_id, staff_id, actor_id, scopes, expires_at,
        )
    )


async def use_token(conn: asyncpg.Connection, token_hash: str) -> TokenRecord | None:
    """A token by its hash, with the current membership role (NULL once the membership is gone).

    The same statement records the use of a live token in ``last_used_at``, at most once a minute,
    so that checking a token costs one round trip and most requests write nothing.
    """
    row = await conn.fetchrow(
        """WITH found AS (
               SELECT t.id, t.application_id, t.staff_id, t.actor_id, t.scopes, t.created_at, t.expires_at,
                      t.revoked_at, m.role
               FROM oauth_tokens t
               LEFT JOIN memberships m ON m.staff_id = t.staff_id AND m.actor_id = t.actor_id
               WHERE t.token_hash = $1),
           touched AS (
               UPDATE oauth_tokens t SET last_used_at = now() FROM found f
               WHERE t.id = f.id AND f.revoked_at IS NULL AND (f.expires_at IS NULL OR f.expires_at > now())
                 AND (f.staff_id IS NULL OR f.role IS NOT NULL)
                 AND (t.last_used_at IS NULL OR t.last_used_at < now() - interval '1 minute'))
           SELECT * FROM found""",
        token_hash,
    )
    return None if row is None else TokenRecord(**dict(row))


async def revoke_token(conn: asyncpg.Connection, token_hash: str) -> bool:
    """Revoke a token by its own or its refresh token's hash; True if one was live."""
    status = await conn.execute(
        """UPDATE oauth_tokens SET revoked_at = now()
           WHERE (token_hash = $1 OR refresh_token_hash = $1) AND revoked_at IS NULL""",
        token_hash,
    )
    return status != "UPDATE 0"
