"""The instance's blocks (Mastodon's "suspend"): remote domains and actors this server has nothing to do with.

Decided by the instance's admins and moderators, unlike ``blocks`` (a remote actor blocking one of our
departments). A block of ``example.com`` covers ``social.example.com`` too, on any port. While a
block holds, the inbox refuses the blocked side's activities (and drops those already queued),
nothing is delivered or fetched there, and mentions of blocked accounts do not resolve. Blocking
removes the follows between our departments and the blocked accounts, both ways, as Mastodon does;
lifting a block does not bring them back.

``BlockList`` keeps a snapshot of the blocks in memory for the inbox, which checks every request:
it is read again at most every ``SNAPSHOT_SECONDS`` (other processes' changes show within that
time) and at once after this process changed a block. Its matching is the SQL functions' of
migration 0007, done in Python; what it lets through while stale is dropped when the activity is
processed, which asks the database (``blocked_among``).
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import asyncpg

from actors import block_queries as queries
from actors.block_queries import ActorBlock, DomainBlock
from actors.errors import Conflict, FetchFailed, NotFound, ValidationError

LABEL_RE = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
MAX_COMMENT = 1000
SEVERITIES = ("suspend",)
SNAPSHOT_SECONDS = 5.0
_URL_HOST_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://(?:[^@/?#]*@)?([^/?#]*)")

_changes = 0  # block changes made by this process; a snapshot older than the last one is read again


def _changed() -> None:
    global _changes
    _changes += 1


class Blocked(FetchFailed):
    """The actor, key or object is on a blocked domain or belongs to a blocked actor."""


def normalize_domain(value: str) -> str:
    """A domain as blocks store it: lower case, IDNA, no port, scheme, path or leading ``*.``."""
    text = value.strip().lower()
    if "://" in text:
        text = urlsplit(text).hostname or ""
    text = text.removeprefix("*.").removeprefix(".").rstrip(".")
    try:
        ipaddress.ip_address(text.strip("[]"))
        return text
    except ValueError:
        pass
    try:
        text = text.encode("idna").decode("ascii")
    except UnicodeError:
        raise ValidationError(f"{value!r} is not a domain name") from None
    labels = text.split(".")
    if not text or len(text) > 253 or not all(LABEL_RE.match(label) for label in labels) or labels[-1].isdigit():
        raise ValidationError(f"{value!r} is not a domain name (e.g. spam.example)")
    return text


def check_comment(value: str | None, name: str = "comment") -> str:
    """A comment: plain text of at most MAX_COMMENT characters."""
    text = (value or "").strip()
    if len(text) > MAX_COMMENT:
        raise ValidationError(f"the {name} is longer than {MAX_COMMENT} characters")
    return text


def check_actor_uri(uri: str, local_domain: str) -> str:
    """A remote actor id: an http(s) URL with a host that is not ours."""
    parts = urlsplit(uri.strip())
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValidationError(f"{uri!r} is not an actor id (an https:// URL) or a @user@host handle")
    if parts.netloc.lower() == local_domain:
        raise ValidationError(f"{uri} is one of this server's actors: only remote actors can be blocked")
    return uri.strip()


async def block_domain(
    conn: asyncpg.Connection, domain: str, public_comment: str | None = None, private_comment: str | None = None,
    local_domain: str | None = None,
) -> tuple[DomainBlock, int]:
    """Block a domain and its subdomains; the block and how many follows were removed."""
    name = normalize_domain(domain)
    if local_domain is not None and name in _suffixes(urlsplit(f"//{local_domain}").hostname or local_domain):
        raise ValidationError(f"a block of {name} would cover this server's own domain")
    async with conn.transaction():
        block = await queries.insert_domain_block(
            conn, name, check_comment(public_comment, "public comment"), check_comment(private_comment, "private comment")
        )
        if block is None:
            raise Conflict(f"{name} is blocked already")
        removed = await queries.remove_blocked_follows(conn)
    _changed()
    return block, removed


async def unblock_domain(conn: asyncpg.Connection, domain: str) -> DomainBlock:
    """Lift the block of a domain."""
    name = normalize_domain(domain)
    block = await queries.delete_domain_block(conn, domain=name)
    if block is None:
        raise NotFound(f"{name} is not blocked")
    _changed()
    return block


async def block_actor(conn: asyncpg.Connection, uri: str, local_domain: str, comment: str | None = None) -> tuple[ActorBlock, int]:
    """Block a remote actor by id; the block and how many follows were removed."""
    uri = check_actor_uri(uri, local_domain)
    async with conn.transaction():
        block = await queries.insert_actor_block(conn, uri, check_comment(comment))
        if block is None:
            raise Conflict(f"{uri} is blocked already")
        removed = await queries.remove_blocked_follows(conn)
    _changed()
    return block, removed


async def unblock_actor(conn: asyncpg.Connection, uri: str) -> ActorBlock:
    """Lift the block of an actor."""
    block = await queries.delete_actor_block(conn, uri.strip())
    if block is None:
        raise NotFound(f"{uri} is not blocked")
    _changed()
    return block


async def blocked_among(conn: asyncpg.Connection, uris: Sequence[str | None]) -> str | None:
    """The first of ``uris`` (actor, key or object ids) that the instance blocks, or None."""
    named = [uri for uri in uris if uri]
    return await queries.first_blocked(conn, named) if named else None


async def blocked_inboxes(conn: asyncpg.Connection, urls: Sequence[str]) -> set[str]:
    """The inbox URLs nothing may be delivered to: on a blocked domain, or a blocked actor's own inbox."""
    return await queries.blocked_inboxes(conn, urls) if urls else set()


@dataclass(frozen=True)
class BlockSnapshot:
    """The blocked domains and actor ids as read at one moment."""

    domains: frozenset[str]
    actors: frozenset[str]

    def first_blocked(self, uris: Sequence[str | None]) -> str | None:
        """The first of ``uris`` that is a blocked actor or on a blocked domain (as SQL ``actor_blocked``)."""
        for uri in uris:
            if uri and (uri in self.actors or self.host_blocked(url_host(uri))):
                return uri
        return None

    def host_blocked(self, host: str | None) -> bool:
        """Whether a host (with or without port) is a blocked domain or under one."""
        return host is not None and bool(self.domains) and any(s in self.domains for s in _suffixes(host_name(host)))


class BlockList:
    """The instance's blocks for the inbox, from a snapshot read at most every ``max_age`` seconds."""

    def __init__(self, pool: asyncpg.Pool, max_age: float = SNAPSHOT_SECONDS) -> None:
        self.pool = pool
        self.max_age = max_age
        self._snapshot: BlockSnapshot | None = None
        self._read_at = 0.0
        self._read_after = -1
        self._reading: asyncio.Task[BlockSnapshot] | None = None

    async def first_blocked(self, uris: Sequence[str | None]) -> str | None:
        """The first of ``uris`` (actor, key or object ids) that the instance blocks, or None."""
        return (await self.snapshot()).first_blocked(uris)

    async def snapshot(self) -> BlockSnapshot:
        """The current snapshot, read again when too old or when this process changed a block since."""
        fresh = self._read_after == _changes and time.monotonic() - self._read_at < self.max_age
        if self._snapshot is not None and fresh:
            return self._snapshot
        if self._reading is None or self._reading.done():  # one read for all the requests waiting on it
            self._reading = asyncio.create_task(self._read())
        return await asyncio.shield(self._reading)

    async def _read(self) -> BlockSnapshot:
        changes, read_at = _changes, time.monotonic()
        async with self.pool.acquire() as conn:
            domains, actors = await queries.block_lists(conn)
        self._snapshot = BlockSnapshot(frozenset(domains), frozenset(actors))
        self._read_at, self._read_after = read_at, changes
        return self._snapshot


def url_host(url: str) -> str | None:
    """The authority of a URL without user info (SQL ``url_host``): ``https://a@Peer.Test:8443/x`` -> ``Peer.Test:8443``."""
    match = _URL_HOST_RE.match(url)
    return None if match is None else match[1]


def host_name(host: str) -> str:
    """A host's name without port, lower case, without trailing dots (SQL ``host_name``)."""
    if host.startswith("["):
        name = host[: host.find("]") + 1] if "]" in host else ""
    else:
        name = host.split(":", 1)[0]
    return name.lower().rstrip(".")


def _suffixes(name: str) -> list[str]:
    labels = name.lower().split(".")
    return [".".join(labels[i:]) for i in range(len(labels))]
