"""Issuing and checking bearer tokens: random, shown once, stored only as a SHA-256 hash."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from api import token_queries

TOKEN_BYTES = 32


def new_secret() -> str:
    """A fresh random token, code or client secret (URL-safe, 256 bits)."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def hash_secret(value: str) -> str:
    """The stored form of a token, code or client secret."""
    return hashlib.sha256(value.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedToken:
    """A token as handed to the client, once."""

    id: int
    access_token: str
    refresh_token: str | None
    scopes: str
    created_at: datetime | None = None


async def issue_token(
    conn: asyncpg.Connection,
    *,
    scopes: str,
    application_id: int | None = None,
    staff_id: int | None = None,
    actor_id: int | None = None,
    with_refresh: bool = False,
    expires_at: datetime | None = None,
) -> IssuedToken:
    """Create a token acting for ``staff_id`` as department ``actor_id`` (both None: the app itself)."""
    access = new_secret()
    refresh = new_secret() if with_refresh else None
    token_id = await token_queries.insert_token(
        conn, hash_secret(access), hash_secret(refresh) if refresh else None,
        application_id, staff_id, actor_id, scopes, expires_at,
    )
    return IssuedToken(token_id, access, refresh, scopes)
