"""Helpers of the attack corpus: signing exactly as an attacker chooses, and proving nothing changed."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import format_datetime
from urllib.parse import urlsplit

import asyncpg
from httpsig.sign import HeaderSigner

from tests.inbox.support import TABLES
from tests.peers import ACTIVITY_JSON, PeerUser, RemotePeer

# Everything an attack could add or change, beyond what the inbox writes.
ALL_TABLES = (
    *TABLES, "hosts", "notifications", "follow_events", "audit_log", "staff", "memberships",
    "oauth_applications", "oauth_grants", "oauth_tokens", "media_attachments", "scheduled_statuses", "markers",
)
RunQueues = Callable[[], Awaitable[int]]
MAIN_HEADERS = ("(request-target)", "host", "date", "digest", "content-type")


def base_headers(url: str, body: bytes, date: datetime | None = None) -> dict[str, str]:
    """Host, Date, Digest and Content-Type of an honest POST of ``body`` to ``url``."""
    return {
        "Host": urlsplit(url).netloc,
        "Date": format_datetime(date or datetime.now(timezone.utc), usegmt=True),
        "Digest": "SHA-256=" + base64.b64encode(hashlib.sha256(body).digest()).decode(),
        "Content-Type": ACTIVITY_JSON,
    }


def sign_covering(user: PeerUser, url: str, body: bytes, covered: Sequence[str]) -> dict[str, str]:
    """A POST signed with ``user``'s real key (httpsig) over only the ``covered`` headers."""
    signer = HeaderSigner(user.key_id, user.private_pem, algorithm="rsa-sha256", headers=list(covered), sign_header="signature")
    return signer.sign(base_headers(url, body), method="POST", path=urlsplit(url).path)


def sign_hmac_with_public_key(user: PeerUser, url: str, body: bytes, algorithm: str) -> dict[str, str]:
    """The algorithm-confusion forgery: HMAC-SHA256 keyed with the actor's *public* key PEM, which anyone can fetch."""
    headers = base_headers(url, body)
    lines = [f"(request-target): post {urlsplit(url).path}"] + [f"{name}: {headers[name.title()]}" for name in MAIN_HEADERS[1:]]
    secret = user.document["publicKey"]["publicKeyPem"].encode()
    mac = base64.b64encode(hmac.new(secret, "\n".join(lines).encode(), hashlib.sha256).digest()).decode()
    headers["Signature"] = (
        f'keyId="{user.key_id}",algorithm="{algorithm}",headers="{" ".join(MAIN_HEADERS)}",signature="{mac}"'
    )
    return headers


async def row_counts(conn: asyncpg.Connection, tables: Sequence[str] = ALL_TABLES) -> dict[str, int]:
    """How many rows each table holds."""
    return {table: int(await conn.fetchval(f"SELECT count(*) FROM {table}")) for table in tables}


@dataclass
class Aftermath:
    """The state before an attack, and the check that running every queue afterwards changed none of it."""

    conn: asyncpg.Connection
    peer: RemotePeer
    run_queues: RunQueues
    before: dict[str, int]

    async def count_rows(self) -> dict[str, int]:
        """The row counts now (to take as ``before`` once a test has set its scene)."""
        return await row_counts(self.conn)

    async def assert_nothing_changed(self) -> None:
        """Run the inbox and delivery workers: they find nothing to do, no row was added, nothing was sent."""
        sent = len(self.peer.received)
        assert await self.run_queues() == 0
        assert await row_counts(self.conn) == self.before
        assert len(self.peer.received) == sent
