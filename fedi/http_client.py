"""The one client for every outgoing request: WebFinger, actor and key fetches, media, deliveries.

One ``aiohttp.ClientSession`` with a keep-alive connection pool serves the whole process. Each address
is judged by :class:`fedi.addresses.AddressPolicy` *after* DNS resolution, inside the resolver aiohttp
connects with, so the addresses checked are the addresses connected to (no DNS-rebinding gap); aiohttp
skips the resolver for IP-literal hosts, so those are judged here before the request. The resolver
learns whether a hop is plain http from a context variable set around each request, and aiohttp's
DNS cache is off so that every new connection is resolved, and judged, in that context.
Redirects are followed by hand (GET only, each hop re-checked and re-signed), bodies are read under a
size cap, and aiohttp/asyncio/ssl errors become :class:`FetchError` at this boundary. Non-2xx statuses
are returned, not raised: callers decide what a 410 or a 429 means.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import re
import socket
import ssl
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from yarl import URL

from fedi.addresses import AddressPolicy, IPAddress, IPNetwork, is_public, parse_address
from fedi.errors import FediError

Signer = Callable[[str, str, dict[str, str], bytes | None], dict[str, str]]
StaticAddresses = str | Sequence[str]

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
KEEPALIVE_SECONDS = 30.0
CHUNK_BYTES = 65_536
# URLs go on the request line exactly as given, so anything but visible ASCII is refused.
NOT_URL_SAFE = re.compile(r"[^\x21-\x7e]")


class FetchError(FediError):
    """An outgoing request failed before a response could be returned."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"{url}: {reason}")
        self.url = url
        self.reason = reason


class ForbiddenAddress(FetchError):
    """The URL's host is, or resolves only to, addresses fedi must not connect to."""


class UnsupportedScheme(FetchError):
    """Not an https URL (plain http is allowed only for allowlisted networks)."""


class ResponseTooLarge(FetchError):
    """The response body exceeds the size cap."""


class FetchTimeout(FetchError):
    """Connecting or the whole exchange took too long."""


class TooManyRedirects(FetchError):
    """A GET was redirected more often than allowed."""


class ConnectionFailed(FetchError):
    """No connection could be made or kept: refused, reset, DNS failure, TLS failure."""


class InvalidResponse(FetchError):
    """The server answered with something that is not valid HTTP, or not the expected JSON."""


@dataclass(frozen=True)
class HttpResponse:
    """A complete response: status, case-insensitive headers, body and the final URL."""

    status: int
    headers: Mapping[str, str]
    body: bytes
    url: str

    def json(self) -> Any:
        """The body parsed as JSON; raises InvalidResponse if it is not JSON."""
        try:
            return json.loads(self.body)
        except ValueError:
            raise InvalidResponse(self.url, "the body is not valid JSON") from None


@dataclass(frozen=True)
class _Hop:
    """The request being made, as the resolver needs to know it."""

    url: str
    plain_http: bool


_current_hop: contextvars.ContextVar[_Hop | None] = contextvars.ContextVar("fedi_http_hop", default=None)


class PolicyResolver(AbstractResolver):
    """Resolves names (or looks them up in ``static_hosts``) and keeps only the addresses the policy permits."""

    def __init__(self, policy: AddressPolicy, inner: AbstractResolver, static_hosts: Mapping[str, StaticAddresses]) -> None:
        self._policy = policy
        self._inner = inner
        self._static = _static_table(static_hosts)

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        """The permitted addresses of ``host``; raises ForbiddenAddress or UnsupportedScheme if there are none."""
        hop = _current_hop.get() or _Hop(url=host, plain_http=False)
        static = self._static.get(host.rstrip(".").lower())
        if static is not None:
            results = [_static_result(host, address, port) for address in static]
        else:
            results = await self._inner.resolve(host, port, family)
        found = [(result, parse_address(result["host"])) for result in results]
        addresses = [address for _, address in found if address is not None]
        permitted = [r for r, a in found if a is not None and self._policy.permits(a, plain_http=hop.plain_http)]
        if not permitted:
            raise _refusal(hop, addresses)
        return permitted

    async def close(self) -> None:
        """Release the wrapped resolver."""
        await self._inner.close()


def _static_table(static_hosts: Mapping[str, StaticAddresses]) -> dict[str, tuple[str, ...]]:
    """Host names (lower case, no trailing dot) mapped to the addresses they stand for."""
    table: dict[str, tuple[str, ...]] = {}
    for name, value in static_hosts.items():
        addresses = (value,) if isinstance(value, str) else tuple(value)
        if not addresses or any(parse_address(address) is None for address in addresses):
            raise ValueError(f"static host {name!r} must map to IP addresses, not {value!r}")
        table[name.rstrip(".").lower()] = addresses
    return table


def _static_result(host: str, address: str, port: int) -> ResolveResult:
    """A resolver result for a name mapped to an address without DNS."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    flags = socket.AI_NUMERICHOST | socket.AI_NUMERICSERV
    return ResolveResult(hostname=host, host=address, port=port, family=family, proto=0, flags=flags)


def _refusal(hop: _Hop, addresses: Sequence[IPAddress]) -> FetchError:
    """The error for a hop none of whose addresses may be reached."""
    if hop.plain_http and any(is_public(address) for address in addresses):
        return UnsupportedScheme(hop.url, "plain http is only used for FEDI_ALLOW_PRIVATE_NETWORKS; use https")
    listed = ", ".join(str(address) for address in addresses) or "no address"
    return ForbiddenAddress(hop.url, f"no public address to connect to (found {listed})")


class HttpClient:
    """Outgoing HTTP with address checks, size caps, timeouts, manual redirects and a signing hook.

    ``resolver`` makes the name resolver the policy wraps (aiohttp's default one; tests pass their own
    to play a hostile DNS server).
    """

    def __init__(
        self,
        allow_private_networks: Sequence[IPNetwork] = (),
        *,
        user_agent: str,
        static_hosts: Mapping[str, StaticAddresses] | None = None,
        connect_timeout: float = 5.0,
        total_timeout: float = 20.0,
        max_response_bytes: int = 1_048_576,
        max_redirects: int = 3,
        limit: int = 100,
        limit_per_host: int = 4,
        ssl_context: ssl.SSLContext | None = None,
        resolver: Callable[[], AbstractResolver] = aiohttp.DefaultResolver,
    ) -> None:
        self._policy = AddressPolicy(tuple(allow_private_networks))
        self._user_agent = user_agent
        self._static_hosts = _static_table(static_hosts or {})
        self._connect_timeout = connect_timeout
        self._total_timeout = total_timeout
        self._max_response_bytes = max_response_bytes
        self._max_redirects = max_redirects
        self._limit = limit
        self._limit_per_host = limit_per_host
        self._ssl_context = ssl_context or ssl.create_default_context()
        self._make_resolver = resolver
        self._session: aiohttp.ClientSession | None = None
        self._resolver: PolicyResolver | None = None

    async def __aenter__(self) -> HttpClient:
        self._resolver = PolicyResolver(self._policy, self._make_resolver(), self._static_hosts)
        connector = aiohttp.TCPConnector(
            resolver=self._resolver,
            use_dns_cache=False,
            ssl=self._ssl_context,
            limit=self._limit,
            limit_per_host=self._limit_per_host,
            keepalive_timeout=KEEPALIVE_SECONDS,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            cookie_jar=aiohttp.DummyCookieJar(),
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=self._connect_timeout),
            trust_env=False,
        )
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self._resolver is not None:
            await self._resolver.close()
            self._resolver = None

    async def get(
        self,
        url: str,
        headers: Mapping[str, str] | None = None,
        *,
        max_bytes: int | None = None,
        timeout: float | None = None,
        sign: Signer | None = None,
    ) -> HttpResponse:
        """GET ``url`` (sent exactly as given), following up to ``max_redirects`` redirects."""
        limit = min(max_bytes, self._max_response_bytes) if max_bytes else self._max_response_bytes
        with _mapped_errors(url):
            async with asyncio.timeout(timeout or self._total_timeout):
                hop_url = url
                for _ in range(self._max_redirects + 1):
                    response = await self._send("GET", hop_url, headers, None, sign, limit)
                    location = response.headers.get("Location")
                    if response.status not in REDIRECT_STATUSES or not location:
                        return response
                    hop_url = _redirect_target(hop_url, location)
                raise TooManyRedirects(url, f"more than {self._max_redirects} redirects")

    async def post(
        self,
        url: str,
        body: bytes,
        headers: Mapping[str, str] | None = None,
        *,
        timeout: float | None = None,
        sign: Signer | None = None,
    ) -> HttpResponse:
        """POST ``body`` to ``url`` (sent exactly as given); a redirect is returned, never followed."""
        with _mapped_errors(url):
            async with asyncio.timeout(timeout or self._total_timeout):
                return await self._send("POST", url, headers, body, sign, self._max_response_bytes)

    async def _send(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None,
        body: bytes | None,
        sign: Signer | None,
        max_bytes: int,
    ) -> HttpResponse:
        """One request without redirects: check the URL, sign, send, read the capped body."""
        if self._session is None:
            raise RuntimeError("HttpClient is used outside `async with`")
        target, plain_http = self._check_url(url)
        send_headers = {"User-Agent": self._user_agent, **(headers or {})}
        if sign is not None:
            send_headers = sign(method, url, send_headers, body)
        token = _current_hop.set(_Hop(url=url, plain_http=plain_http))
        try:  # errors are mapped by the callers, around their timeout
            async with self._session.request(
                method, target, headers=send_headers, data=body, allow_redirects=False
            ) as response:
                content = await _read_capped(response, url, max_bytes)
                return HttpResponse(response.status, response.headers, content, url)  # the response's own copy
        finally:
            _current_hop.reset(token)

    def _check_url(self, url: str) -> tuple[URL, bool]:
        """The parsed URL and whether it is plain http; refuses other schemes and forbidden IP literals."""
        if NOT_URL_SAFE.search(url):
            raise FetchError(url, "not a valid URL: it must be percent-encoded ASCII without spaces")
        try:
            target = URL(url, encoded=True)
        except (ValueError, TypeError):
            raise FetchError(url, "not a valid URL") from None
        if target.scheme not in ("https", "http"):
            raise UnsupportedScheme(url, f"only https URLs are fetched, not {target.scheme or 'relative'} ones")
        host = target.raw_host
        if not host:
            raise FetchError(url, "the URL has no host")
        plain_http = target.scheme == "http"
        # aiohttp connects straight to anything it takes for an IP literal, without the resolver.
        if ":" in host or host.replace(".", "").isdigit():
            address = parse_address(host)
            if address is None:
                raise ForbiddenAddress(url, f"{host!r} is not a canonical IP address")
            if not self._policy.permits(address, plain_http=plain_http):
                raise _refusal(_Hop(url, plain_http), [address])
        return target, plain_http


def _redirect_target(url: str, location: str) -> str:
    """The absolute URL a Location header points to, keeping its percent-encoding."""
    try:
        return str(URL(url, encoded=True).join(URL(location, encoded=True)).with_fragment(None))
    except (ValueError, TypeError):
        raise InvalidResponse(url, f"redirect to an invalid URL: {location!r}") from None


async def _read_capped(response: aiohttp.ClientResponse, url: str, max_bytes: int) -> bytes:
    """The response body, refused as soon as it is known to exceed ``max_bytes``."""
    if response.content_length is not None and response.content_length > max_bytes:
        raise ResponseTooLarge(url, f"Content-Length {response.content_length} exceeds {max_bytes} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_chunked(CHUNK_BYTES):
        size += len(chunk)
        if size > max_bytes:
            raise ResponseTooLarge(url, f"the body exceeds {max_bytes} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


@contextmanager
def _mapped_errors(url: str) -> Iterator[None]:
    """Turn aiohttp, asyncio and ssl errors into FetchError subclasses."""
    try:
        yield
    except aiohttp.ConnectionTimeoutError as exc:
        raise FetchTimeout(url, f"connecting timed out ({exc})") from exc
    except TimeoutError as exc:
        raise FetchTimeout(url, "the request timed out") from exc
    except aiohttp.ClientConnectorCertificateError as exc:
        raise ConnectionFailed(url, f"TLS certificate not trusted: {exc.certificate_error}") from exc
    except (aiohttp.ClientSSLError, ssl.SSLError) as exc:
        raise ConnectionFailed(url, f"TLS failed: {exc}") from exc
    except aiohttp.ClientConnectorDNSError as exc:
        raise ConnectionFailed(url, f"the host name does not resolve: {exc.os_error}") from exc
    except (aiohttp.ClientPayloadError, aiohttp.ClientResponseError) as exc:
        raise InvalidResponse(url, f"invalid HTTP response: {exc}") from exc
    except aiohttp.InvalidURL as exc:
        raise FetchError(url, f"not a valid URL: {exc}") from exc
    except (aiohttp.ClientError, OSError) as exc:
        raise ConnectionFailed(url, f"connection failed: {exc}") from exc
