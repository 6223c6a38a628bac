"""Finding remote actors: fetch (signed, as the instance actor), validate, cache in PostgreSQL.

``ActorResolver`` is what the inbox gives the signature checker as its key lookup and what the
outbox uses to resolve ``@user@host`` mentions. Documents must come from their own host: a fetched
document whose ``id`` is on another host is fetched again from that id, once, and a key document's
owner must name the key back. A key is re-fetched at most once a minute (``REFETCH_INTERVAL``).
Nothing is fetched from a domain the instance blocks, and blocked actors do not resolve. Inside
``fetch_budget()`` (one per inbound activity) at most that many documents are fetched; the next
fetch raises ``FetchBudgetExceeded`` and is not made.

Keys found are kept in memory for ``KEY_CACHE_SECONDS`` (a cache only: the database stays the
truth, and a signature that fails with a cached key looks the key up again). Fetches of keys are
limited per key id host (``KEY_FETCHES`` per ``KEY_FETCH_SECONDS``), so requests naming made-up
key ids on someone else's server cannot make us hammer that server. ``blocks`` is the instance's
block list snapshot the inbox checks every request against (``actors.blocks.BlockList``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import asyncpg

from actors import remote_queries
from actors.blocks import Blocked, BlockList, blocked_among
from actors.departments import ensure_instance_actor
from actors.errors import FetchFailed, InvalidDocument
from actors.queries import Actor
from actors.remote_documents import host_of, parse_actor
from fedi.caches import Clock, TimedCache
from fedi.http_client import FetchError, HttpClient
from fedi.settings import Settings
from keys.keypairs import KeyVault
from keys.public_keys import PublicKey
from keys.signers import RequestSigner
from keys.store import ensure_active_key

log = logging.getLogger(__name__)

AP_ACCEPT = 'application/activity+json, application/ld+json; profile="https://www.w3.org/ns/activitystreams"'
JRD_ACCEPT = "application/jrd+json, application/json"
REFETCH_INTERVAL = timedelta(minutes=1)
ACTOR_MAX_AGE = timedelta(days=1)
FETCH_BUDGET = 5
KEY_CACHE_SECONDS = 60.0
KEY_CACHE_SIZE = 10_000
KEY_FETCHES = 30
KEY_FETCH_SECONDS = 60.0
MAX_HOSTS = 10_000


class FetchAllowance:
    """At most ``limit`` fetches per host in each window of ``seconds`` (fixed windows, bounded memory)."""

    def __init__(self, limit: int = KEY_FETCHES, seconds: float = KEY_FETCH_SECONDS, clock: Clock = time.monotonic) -> None:
        self.limit = limit
        self.seconds = seconds
        self.clock = clock
        self._windows: OrderedDict[str, tuple[float, int]] = OrderedDict()

    def take(self, host: str) -> bool:
        """Count one fetch from ``host``; False (and nothing counted) when its allowance is spent."""
        now = self.clock()
        while self._windows and next(iter(self._windows.values()))[0] + self.seconds <= now:
            self._windows.popitem(last=False)  # windows start in order: the oldest ones end first
        started, count = self._windows.get(host, (now, 0))
        if count >= self.limit:
            return False
        self._windows[host] = (started, count + 1)
        if len(self._windows) > MAX_HOSTS:
            self._windows.popitem(last=False)
        return True


class FetchBudgetExceeded(FetchFailed):
    """An inbound activity needed more remote fetches than one activity may trigger."""


@dataclass
class FetchBudget:
    """How many fetches the current activity may still trigger; shared by the tasks it starts."""

    limit: int
    spent: int = 0
    refused: str | None = None

    def spend(self, url: str) -> None:
        """Count one fetch of ``url``, or refuse it (and remember that) when the budget is spent."""
        if self.spent >= self.limit:
            self.refused = self.refused or url
            self.check()
        self.spent += 1

    def check(self) -> None:
        """Raise ``FetchBudgetExceeded`` if a fetch was refused, even when the caller coped without it."""
        if self.refused is not None:
            raise FetchBudgetExceeded(
                f"fetch budget: one activity may trigger at most {self.limit} remote fetches; {self.refused} was not fetched"
            )


_budget: ContextVar[FetchBudget | None] = ContextVar("fetch_budget", default=None)


@contextmanager
def fetch_budget(limit: int = FETCH_BUDGET) -> Iterator[FetchBudget]:
    """Limit the fetches made in this block (and the tasks it starts) to ``limit``."""
    budget = FetchBudget(limit)
    token = _budget.set(budget)
    try:
        yield budget
    finally:
        _budget.reset(token)


def without_fragment(url: str) -> str:
    """The URL with any ``#fragment`` removed (key ids often point into the actor document)."""
    try:
        parts = urlsplit(url)
    except ValueError:  # not a URL at all (an unclosed IPv6 bracket): nothing to strip
        return url
    return urlunsplit((parts.scheme, parts.netloc, parts.path, parts.query, ""))


class ActorResolver:
    """Remote actors and keys, from the database when fresh, else fetched and stored."""

    def __init__(self, pool: asyncpg.Pool, http: HttpClient, settings: Settings, vault: KeyVault) -> None:
        self.pool = pool
        self.http = http
        self.settings = settings
        self.vault = vault
        self.blocks = BlockList(pool)
        self._signer: RequestSigner | None = None
        self._keys: TimedCache[PublicKey] = TimedCache(KEY_CACHE_SECONDS, KEY_CACHE_SIZE)
        self.key_fetches = FetchAllowance()
        self._fetching_keys: dict[str, asyncio.Future[Actor]] = {}

    async def signer(self) -> RequestSigner:
        """The instance actor's signer, used for every fetch (authorized-fetch servers need it)."""
        if self._signer is None:
            async with self.pool.acquire() as conn:
                actor = await ensure_instance_actor(conn, self.settings)
                key = await ensure_active_key(conn, self.vault, actor.id, actor.uri)
            assert key.private_key_encrypted is not None
            self._signer = RequestSigner(key.key_id, self.vault.decrypt(key.private_key_encrypted))
        return self._signer

    def is_local(self, uri: str) -> bool:
        """Whether ``uri`` is one of this server's ids."""
        return host_of(uri) == self.settings.domain

    async def fetch_document(self, url: str) -> dict[str, Any]:
        """A signed GET of an ActivityPub document; its ``id`` must be on the host it came from."""
        document = await self._get_json(url, AP_ACCEPT)
        object_id = document.get("id")
        if not isinstance(object_id, str):
            raise InvalidDocument(f"the document at {url} has no id")
        if host_of(object_id) != host_of(url):
            document = await self._get_json(object_id, AP_ACCEPT)  # trust only what the id's host serves
            if document.get("id") != object_id:
                raise InvalidDocument(f"{object_id} does not serve the document claiming its id")
        return document

    async def get_actor(self, uri: str, *, refresh: bool = False) -> Actor:
        """An actor by id: local ones from the database, remote ones fetched when unknown, stale or asked."""
        async with self.pool.acquire() as conn:
            actor = await remote_queries.actor_by_uri(conn, uri)
            if not self.is_local(uri) and await blocked_among(conn, [uri]):
                raise Blocked(f"{uri} is blocked by this instance")
        if actor is not None and (actor.local or not (refresh or self._stale(actor))):
            return actor
        if self.is_local(uri):
            raise FetchFailed(f"no local actor {uri}")
        try:
            data = parse_actor(await self.fetch_document(uri))
        except (FetchFailed, InvalidDocument):
            if actor is not None and not refresh:
                return actor  # a stale copy beats none while the origin is down
            raise
        if data.uri != uri:
            raise InvalidDocument(f"{uri} answered with another actor, {data.uri}")
        async with self.pool.acquire() as conn:
            return await remote_queries.upsert_remote_actor(conn, data)

    async def lookup_key(self, key_id: str, refresh: bool) -> PublicKey | None:
        """The key lookup for ``SignatureChecker``: cached or stored keys, fetched when unknown or on ``refresh``."""
        if not refresh and (cached := self._keys.get(key_id)) is not None:
            return cached
        async with self.pool.acquire() as conn:
            known = await remote_queries.known_key(conn, key_id)
        if known is not None and (known.local or not refresh or not self._may_refetch(known.fetched_at)):
            key = PublicKey(known.key_id, known.owner_uri, known.public_key_pem, known.retired)
            if not known.local:
                self._keys.put(key_id, key)
            return key
        if self.is_local(key_id):
            return None
        stale = None if known is None else PublicKey(known.key_id, known.owner_uri, known.public_key_pem)
        try:
            owner = await self._fetch_key(key_id)
        except (FetchFailed, InvalidDocument) as exc:
            log.info("cannot fetch key %s: %s", key_id, exc)
            return stale
        async with self.pool.acquire() as conn:
            fresh = await remote_queries.known_key(conn, key_id)
        if fresh is None or fresh.owner_uri != owner.uri:
            self._keys.discard(key_id)
            return None
        key = PublicKey(fresh.key_id, fresh.owner_uri, fresh.public_key_pem)
        self._keys.put(key_id, key)
        return key

    async def known_key(self, key_id: str) -> PublicKey | None:
        """A stored key without fetching anything."""
        async with self.pool.acquire() as conn:
            known = await remote_queries.known_key(conn, key_id)
        return None if known is None else PublicKey(known.key_id, known.owner_uri, known.public_key_pem, known.retired)

    async def resolve_handle(self, handle: str) -> Actor:
        """``user@host`` (with or without a leading ``@``) to an actor, via WebFinger and a round-trip check."""
        username, _, host = handle.lstrip("@").partition("@")
        if not username or not host:
            raise FetchFailed(f"{handle!r} is not a user@host handle")
        host = host.lower()
        if host == self.settings.domain:
            async with self.pool.acquire() as conn:
                actor = await remote_queries.actor_by_uri(conn, f"{self.settings.base_url}/users/{username.lower()}")
            if actor is None or actor.deleted_at is not None:
                raise FetchFailed(f"no department {username}@{host}")
            return actor
        async with self.pool.acquire() as conn:
            if await blocked_among(conn, [f"https://{host}/"]):
                raise Blocked(f"{username}@{host}: {host} is blocked by this instance")
            cached = await remote_queries.remote_actor_by_handle(conn, username, host)
            if cached is not None and await blocked_among(conn, [cached.uri]):
                raise Blocked(f"{username}@{host} is blocked by this instance")
        if cached is not None and not self._stale(cached):
            return cached
        actor_uri = await self._webfinger(username, host)
        actor = await self.get_actor(actor_uri, refresh=True)
        if host_of(actor.uri) != host:
            # the account lives elsewhere (e.g. WebFinger on example.com, actor on social.example.com):
            # its own host must agree that the handle is its
            if actor.username.lower() != username.lower() or await self._webfinger(actor.username, host_of(actor.uri)) != actor.uri:
                raise InvalidDocument(f"{handle} points at {actor.uri}, which does not claim that handle")
        return actor

    async def _webfinger(self, username: str, host: str) -> str:
        url = f"https://{host}/.well-known/webfinger?resource={quote(f'acct:{username}@{host}', safe=':@')}"
        jrd = await self._get_json(url, JRD_ACCEPT, signed=False)
        for link in jrd.get("links") or []:
            if (
                isinstance(link, dict)
                and link.get("rel") == "self"
                and isinstance(link.get("href"), str)
                and ("activity+json" in str(link.get("type")) or "ld+json" in str(link.get("type")))
            ):
                return link["href"]
        raise FetchFailed(f"WebFinger for {username}@{host} names no ActivityPub actor")

    async def _fetch_key(self, key_id: str) -> Actor:
        """The key's owner, fetched once for all the requests asking at the same time, within the host's allowance."""
        fetching = self._fetching_keys.get(key_id)
        if fetching is None:
            if not self.key_fetches.take(host_of(key_id)):
                raise FetchFailed(f"not fetched: {host_of(key_id)} used up its allowance of {self.key_fetches.limit} key fetches")
            fetching = self._fetching_keys[key_id] = asyncio.ensure_future(self._owner_of_key(key_id))
            fetching.add_done_callback(lambda _: self._fetching_keys.pop(key_id, None))
        return await asyncio.shield(fetching)

    async def _owner_of_key(self, key_id: str) -> Actor:
        """Fetch a key id: either the actor document itself, or a key document whose owner names it back."""
        document = await self.fetch_document(without_fragment(key_id))
        if "inbox" in document and "publicKey" in document:
            return await self._store(document)
        owner_uri = document.get("owner")
        if not isinstance(owner_uri, str) or host_of(owner_uri) != host_of(key_id):
            raise InvalidDocument(f"key {key_id} names no owner on its own host")
        # the owner must name the key back: lookup_key finds it stored under this owner only if it does
        return await self._store(await self.fetch_document(owner_uri))

    async def _store(self, document: dict[str, Any]) -> Actor:
        data = parse_actor(document)
        async with self.pool.acquire() as conn:
            return await remote_queries.upsert_remote_actor(conn, data)

    async def _get_json(self, url: str, accept: str, signed: bool = True) -> dict[str, Any]:
        async with self.pool.acquire() as conn:
            if await blocked_among(conn, [url]):
                raise Blocked(f"not fetching {url}: its domain is blocked by this instance")
        budget = _budget.get()
        if budget is not None:
            budget.spend(url)
        sign = await self.signer() if signed else None
        try:
            response = await self.http.get(url, headers={"Accept": accept}, sign=sign)
        except FetchError as exc:
            raise FetchFailed(f"cannot fetch {url}: {exc}") from exc
        if response.status == 410:
            raise FetchFailed(f"{url} is gone (410)")
        if not 200 <= response.status < 300:
            raise FetchFailed(f"{url} answered {response.status}")
        try:
            document = response.json()
        except FetchError as exc:
            raise FetchFailed(f"{url} did not answer JSON: {exc}") from exc
        if not isinstance(document, dict):
            raise InvalidDocument(f"{url} did not answer a JSON object")
        return document

    @staticmethod
    def _stale(actor: Actor) -> bool:
        return actor.fetched_at is None or datetime.now(timezone.utc) - actor.fetched_at > ACTOR_MAX_AGE

    @staticmethod
    def _may_refetch(fetched_at: datetime | None) -> bool:
        return fetched_at is None or datetime.now(timezone.utc) - fetched_at > REFETCH_INTERVAL
