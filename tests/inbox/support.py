"""Helpers for inbox tests: captured payloads mapped onto the test's hosts, signing, row counts."""

from __future__ import annotations

import base64
import hashlib
import io
import json
from datetime import datetime, timezone
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import asyncpg
from httpsig.sign import HeaderSigner

from actors.queries import Actor
from tests.peers import ACTIVITY_JSON, PeerUser, RemotePeer

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "activitypub"

# Remote actors of the captured payloads: each becomes the peer user the test sends as.
REMOTE_ACTORS = (
    "http://mastodon.example.org/users/admin", "http://mastodon.example.org/users/gargron",
    "https://misskey.local.live/users/8x8yep20u2", "https://p.helene.moe/users/helene",
    "https://mastodon.sdf.org/users/rinpatch", "https://enterprise.lemmy.ml/u/nutomic",
    "https://hubzilla.example.org/channel/kaniini",
)
REMOTE_HOSTS = (
    "http://mastodon.example.org", "https://misskey.xyz", "https://misskey.local.live", "https://p.helene.moe",
    "https://mk.absturztau.be", "https://mastodon.sdf.org", "https://enterprise.lemmy.ml", "https://hubzilla.example.org",
)
# The local user of the captured payloads becomes the department; the local host becomes ours.
LOCAL_USERS = ("http://localtesting.pleroma.lol/users/lain", "https://testing.pleroma.lol/users/lain")
LOCAL_HOSTS = ("http://localtesting.pleroma.lol", "https://testing.pleroma.lol", "https://pleroma.local.live")
# The domain of the test settings (tests/conftest.py): signed requests are addressed to it.
LOCAL_DOMAIN = "city.example"
# Tables the inbox writes to (directly or through handlers), counted before and after a refused request.
TABLES = (
    "inbox_items", "posts", "post_mentions", "interactions", "follows", "blocks", "reports",
    "outbox_activities", "deliveries", "actors", "keys",
)


def load_fixture(name: str, user: PeerUser, department: Actor, base_url: str, peer: RemotePeer) -> dict[str, Any]:
    """A captured payload with its actor as ``user``, its local user as ``department`` and hosts rewritten."""
    text = (FIXTURES / f"{name}.json").read_text(encoding="utf-8")
    for original in REMOTE_ACTORS:
        text = text.replace(original, user.uri)
    for original in LOCAL_USERS:
        text = text.replace(original, department.uri)
    for original in LOCAL_HOSTS:
        text = text.replace(original, base_url)
    for original in REMOTE_HOSTS:
        text = text.replace(original, peer.base_url)
    return json.loads(text)


def sign(
    user: PeerUser, url: str, body: bytes, *, date: datetime | None = None, digest_of: bytes | None = None,
    content_type: str = ACTIVITY_JSON, host: str = LOCAL_DOMAIN,
) -> dict[str, str]:
    """Headers of a POST to our server signed as Mastodon signs (httpsig), with a chosen Date, Host or digest."""
    digest_body = body if digest_of is None else digest_of
    headers = {
        "Host": host,
        "Date": format_datetime(date or datetime.now(timezone.utc), usegmt=True),
        "Digest": "SHA-256=" + base64.b64encode(hashlib.sha256(digest_body).digest()).decode(),
        "Content-Type": content_type,
    }
    signer = HeaderSigner(
        user.key_id, user.private_pem, algorithm="rsa-sha256",
        headers=["(request-target)", "host", "date", "digest", "content-type"], sign_header="signature",
    )
    return signer.sign(headers, method="POST", path=urlsplit(url).path)


async def post(http: aiohttp.ClientSession, url: str, body: bytes, headers: dict[str, str]) -> tuple[int, Any]:
    """POST raw bytes and return (status, decoded JSON or None)."""
    async with http.post(url, data=io.BytesIO(body), headers=headers) as response:
        text = await response.text()
        return response.status, (json.loads(text) if text else None)


async def row_counts(conn: asyncpg.Connection) -> dict[str, int]:
    """How many rows each table the inbox may write holds."""
    return {table: int(await conn.fetchval(f"SELECT count(*) FROM {table}")) for table in TABLES}


async def local_post(
    conn: asyncpg.Connection, department: Actor, uri: str | None = None, *, visibility: str = "public",
    url: str | None = None, content: str = "<p>Opening hours change on Monday.</p>",
) -> dict[str, Any]:
    """A department's post, stored as the outbox stores it; returns its id, uri and url."""
    post_id = int(await conn.fetchval("SELECT nextval(pg_get_serial_sequence('posts', 'id'))"))
    uri = uri or f"{department.uri}/posts/{post_id}"
    url = url or f"{department.uri.replace('/users/', '/@')}/{post_id}"
    await conn.execute(
        """INSERT INTO posts (id, uri, local, author_id, url, visibility, content_html, to_uris)
           VALUES ($1, $2, true, $3, $4, $5, $6, $7)""",
        post_id, uri, department.id, url, visibility, content, ["https://www.w3.org/ns/activitystreams#Public"],
    )
    return {"id": post_id, "uri": uri, "url": url}


async def item_state(conn: asyncpg.Connection, activity_id: str) -> dict[str, Any] | None:
    """The inbox row of an activity: state, attempts, last error, recipient."""
    row = await conn.fetchrow(
        """SELECT state, attempts, last_error, recipient_id, next_attempt_at > now() AS waiting
           FROM inbox_items WHERE activity_id = $1""",
        activity_id,
    )
    return None if row is None else dict(row)
