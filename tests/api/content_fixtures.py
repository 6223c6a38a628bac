"""Fixtures of the status, timeline, notification, media, search and scheduling tests.

Tokens come from ``issue_token`` (the OAuth flow has tests of its own): an editor and a viewer of the
library, and an editor of the museum. ``Caller`` makes API requests with a token over real HTTP.
Registered for every API test by tests/api/conftest.py.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import asyncpg
import pytest

from actors.queries import LocalActor
from actors.staff import add_staff, grant_membership
from api.scheduling import ScheduledTask
from api.tokens import issue_token
from fedi.worker import Worker
from inbox.processing import InboxTask
from outbox.deliveries import DeliveryTask
from tests.servers import RunningInstance

__all__ = ["Caller", "Reply", "caller", "deliver_outgoing", "png", "process_inbox", "run_scheduled", "tokens"]


@dataclass(frozen=True)
class Reply:
    """An API answer: status, decoded JSON (None when empty) and headers."""

    status: int
    body: Any
    headers: dict[str, str]


@dataclass(frozen=True)
class Caller:
    """Client API requests with one token (or none)."""

    http: aiohttp.ClientSession
    server: str
    token: str | None

    async def __call__(self, method: str, path: str, **kwargs: Any) -> Reply:
        """``method path`` with the token; kwargs go to aiohttp (json=, data=, params=, headers=)."""
        headers = dict(kwargs.pop("headers", {}))
        if self.token is not None:
            headers["Authorization"] = f"Bearer {self.token}"
        async with self.http.request(method, f"{self.server}{path}", headers=headers, **kwargs) as response:
            text = await response.text()
            body = await response.json(content_type=None) if text else None
            return Reply(response.status, body, dict(response.headers))


def png(width: int, height: int) -> bytes:
    """A valid grey PNG of the given size."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


@pytest.fixture
async def tokens(conn: asyncpg.Connection, library: LocalActor, museum: LocalActor) -> dict[str, str]:
    """Access tokens (scopes read write follow): ``editor`` and ``viewer`` of the library, ``museum`` (an editor)."""
    made = {}
    for name, username, department, role in (
        ("editor", "anna", library, "editor"), ("viewer", "vic", library, "viewer"), ("museum", "max", museum, "editor"),
    ):
        staff = await add_staff(conn, username, username.capitalize())
        await grant_membership(conn, username, department.username, role)
        made[name] = (await issue_token(conn, scopes="read write follow", staff_id=staff.id, actor_id=department.id)).access_token
    return made


@pytest.fixture
def caller(http: aiohttp.ClientSession, server: str, tokens: dict[str, str]) -> Callable[[str | None], Caller]:
    """``caller("editor")`` calls the API with that token; ``caller(None)`` without one."""
    return lambda name: Caller(http, server, None if name is None else tokens.get(name, name))


@pytest.fixture
def process_inbox(instance: RunningInstance) -> Callable[[], Awaitable[int]]:
    """Process every received activity."""
    services = instance.services
    return lambda: Worker(services.pool, [InboxTask(services.pool, services.resolver, services.settings)]).run_until_idle()


@pytest.fixture
def deliver_outgoing(instance: RunningInstance) -> Callable[[], Awaitable[int]]:
    """Deliver every queued outgoing activity."""
    services = instance.services
    return lambda: Worker(services.pool, [DeliveryTask(services.pool, services.http, services.vault)]).run_until_idle()


@pytest.fixture
def run_scheduled(instance: RunningInstance) -> Callable[[], Awaitable[int]]:
    """Publish every due scheduled status."""
    services = instance.services
    return lambda: Worker(services.pool, [ScheduledTask(services.pool, services.resolver, services.settings)]).run_until_idle()
