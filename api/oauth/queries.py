"""SQL for OAuth applications, authorization codes and tokens.

Client secrets, codes and refresh tokens are stored only as SHA-256 hashes (staff logins: ``actors.login_queries``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg


@dataclass(frozen=True)
class Application:
    """A registered client application."""

    id: int
    name: str
    website: str | None
    redirect_uris: list[str]
    scopes: str
    client_id: str
    client_secret_hash: str
    created_at: datetime


@dataclass(frozen=True)
class Grant:
    """An authorization code as stored: who approved which application, as which department."""

    id: int
    application_id: int
    staff_id: int
    actor_id: int
    redirect_uri: str
    scopes: str
    code_challenge: str | None
    code_challenge_method: str | None
    expires_at: datetime
    used_at: datetime | None


@dataclass(frozen=True)
class RefreshableToken:
    """A token found by its refresh token, with the staff member's current role in its department."""

    id: int
    application_id: int | None
    staff_id: int | None
    actor_id: int | None
    scopes: str
    revoked_at: datetime | None
    role: str | None


_APPLICATION = "id, name, website, redirect_uris, scopes, client_id, client_secret_hash, created_at"
_GRANT = (
    "id, application_id, staff_id, actor_id, redirect_uri, scopes, code_challenge, code_challenge_method, "
    "expires_at, used_at"
)


async def insert_application(
    conn: asyncpg.Connection, name: str, website: str | None, redirect_uris: list[str], scopes: str,
    client_id: str, client_secret_hash: str,
) -> Application:
    """Register an application."""
    row = await conn.fetchrow(
        f"""INSERT INTO oauth_applications (name, website, redirect_uris, scopes, client_id, client_secret_hash)
            VALUES ($1, $2, $3, $4, $5, $6) RETURNING {_APPLICATION}""",
        name, website, redirect_uris, scopes, client_id, client_secret_hash,
    )
    return Application(**dict(row))


async def application_by_client_id(conn: asyncpg.Connection, client_id: str) -> Application | None:
    """An application by its public client id."""
    row = await conn.fetchrow(f"SELECT {_APPLICATION} FROM oauth_applications WHERE client_id = $1", client_id)
    return None if row is None else Application(**dict(row))


async def application_by_id(conn: asyncpg.Connection, application_id: int) -> Application | None:
    """An application by database id."""
    row = await conn.fetchrow(f"SELECT {_APPLICATION} FROM oauth_applications WHERE id = $1", application_id)
    return None if row is None else Application(**dict(row))


async def insert_grant(
    conn: asyncpg.Connection, code_hash: str, application_id: int, staff_id: int, actor_id: int, redirect_uri: str,
    scopes: str, code_challenge: str | None, code_challenge_method: str | None, lifetime: timedelta,
) -> int:
    """Store an authorization code valid for ``lifetime``; return its id."""
    return int(
        await conn.fetchval(
            """INSERT INTO oauth_grants (code_hash, application_id, staff_id, actor_id, redirect_uri, scopes,
                   code_challenge, code_challenge_method, expires_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, now() + $9::interval) RETURNING id""",
            code_hash, application_id, staff_id, actor_id, redirect_uri, scopes, code_challenge,
            code_challenge_method, lifetime,
        )
    )


async def grant_for_update(conn: asyncpg.Connection, code_hash: str) -> Grant | None:
    """An authorization code by hash, locked until the caller's transaction ends (a code is redeemed once)."""
    row = await conn.fetchrow(f"SELECT {_GRANT} FROM oauth_grants WHERE code_hash = $1 FOR UPDATE", code_hash)
    return None if row is None else Grant(**dict(row))


async def mark_grant_used(conn: asyncpg.Connection, grant_id: int) -> None:
    """Record that an authorization code was redeemed."""
    await conn.execute("UPDATE oauth_grants SET used_at = now() WHERE id = $1", grant_id)


async def revoke_staff_tokens(conn: asyncpg.Connection, staff_id: int) -> int:
    """Revoke every live token of a staff member; return how many."""
    status = await conn.execute(
        "UPDATE oauth_tokens SET revoked_at = now() WHERE staff_id = $1 AND revoked_at IS NULL", staff_id
    )
    return int(status.split()[-1])


async def token_by_refresh_hash(conn: asyncpg.Connection, refresh_hash: str) -> RefreshableToken | None:
    """The token a refresh token belongs to, with the current membership role (NULL once it is gone)."""
    row = await conn.fetchrow(
        """SELECT t.id, t.application_id, t.staff_id, t.actor_id, t.scopes, t.revoked_at, m.role
           FROM oauth_tokens t
           LEFT JOIN memberships m ON m.staff_id = t.staff_id AND m.actor_id = t.actor_id
           WHERE t.refresh_token_hash = $1""",
        refresh_hash,
    )
    return None if row is None else RefreshableToken(**dict(row))


async def token_application(conn: asyncpg.Connection, token_hash: str) -> tuple[bool, int | None]:
    """Whether a token (access or refresh, by hash) exists, and the application it was issued to."""
    row = await conn.fetchrow(
        "SELECT application_id FROM oauth_tokens WHERE token_hash = $1 OR refresh_token_hash = $1 LIMIT 1",
        token_hash,
    )
    return (False, None) if row is None else (True, row["application_id"])
