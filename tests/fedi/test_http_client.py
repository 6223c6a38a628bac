"""The outgoing HTTP client against real servers on 127.0.0.1 (plain and TLS), with no mocks of aiohttp.

Every test runs under a guard on the event loop's connect calls: it records each address the client
tries to connect to and refuses, before any packet is sent, anything not on this machine. Names for
forbidden addresses are given through ``static_hosts``, so refusals are checked without DNS and
without connecting.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import trustme
from aiohttp import web

from fedi.addresses import AddressPolicy, is_public
from fedi.http_client import (
    ConnectionFailed,
    FetchError,
    FetchTimeout,
    ForbiddenAddress,
    HttpClient,
    InvalidResponse,
    PolicyResolver,
    ResponseTooLarge,
    Signer,
    TooManyRedirects,
    UnsupportedScheme,
)

LOOPBACK = [ipaddress.ip_network("127.0.0.0/8")]
USER_AGENT = "fedi/0.1.0 (+https://city.example/)"
PUBLIC_ADDRESS = "192.88.99.1"
FORBIDDEN_ADDRESSES = [
    "10.1.2.3",
    "172.16.0.1",
    "192.168.0.1",
    "169.254.169.254",
    "100.64.0.1",
    "224.0.0.1",
    "0.0.0.0",
    "255.255.255.255",
    "::1",
    "::",
    "fe80::1",
    "fc00::1",
    "ff02::1",
    "::ffff:10.0.0.1",
    "::ffff:127.0.0.1",
    "::ffff:192.168.0.1",
    "64:ff9b::a00:1",
    "2002:a00:1::1",
]
STATIC_HOSTS: dict[str, str | list[str]] = {
    "a.test": "127.0.0.1",
    "b.test": "127.0.0.1",
    "public.test": PUBLIC_ADDRESS,
    "mixed.test": ["10.1.2.3", "::1", "127.0.0.1", "fe80::1"],
    **{f"forbidden{i}.test": address for i, address in enumerate(FORBIDDEN_ADDRESSES)},
}


@dataclass
class Seen:
    """One request as the server received it."""

    method: str
    raw_path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class LocalServer:
    """A server on 127.0.0.1 that counts TCP connections and records requests."""

    port: int = 0
    connections: int = 0
    requests: list[Seen] = field(default_factory=list)
    redirects: dict[str, tuple[int, str]] = field(default_factory=dict)

    def url(self, host: str, path: str, scheme: str = "http") -> str:
        """An absolute URL on this server under the given host name."""
        return f"{scheme}://{host}:{self.port}{path}"


async def respond(server: LocalServer, request: web.BaseRequest) -> web.StreamResponse:
    """The test application: a few fixed routes and the redirects a test configured."""
    server.requests.append(Seen(request.method, request.raw_path, dict(request.headers), await request.read()))
    raw_path = request.raw_path.partition("?")[0]
    if raw_path in server.redirects:
        status, location = server.redirects[raw_path]
        return web.Response(status=status, headers={"Location": location})
    if request.path == "/echo":
        return web.Response(status=201, body=request.method.encode() + b" " + await request.read())
    if request.path == "/too-many":
        return web.Response(status=429, headers={"Retry-After": "120"}, text="slow down")
    if request.path == "/big":
        return web.Response(body=b"x" * 2000)
    if request.path == "/chunked":
        return await stream(request, [b"y" * 500] * 4, delay=0)
    if request.path == "/slow":
        return await stream(request, [b"z"] * 10, delay=1.0, length=10)
    if request.path == "/not-json":
        return web.Response(text="<html></html>")
    return web.json_response({"path": request.raw_path})


async def stream(
    request: web.BaseRequest, chunks: list[bytes], *, delay: float, length: int | None = None
) -> web.StreamResponse:
    """Send ``chunks`` one by one, chunked unless a Content-Length is given."""
    response = web.StreamResponse()
    if length is None:
        response.enable_chunked_encoding()
    else:
        response.content_length = length
    await response.prepare(request)
    try:
        for chunk in chunks:
            await response.write(chunk)
            await asyncio.sleep(delay)
    except ConnectionResetError:
        return response
    return response


@asynccontextmanager
async def serving(tls: ssl.SSLContext | None = None) -> AsyncIterator[LocalServer]:
    """Run the test application on a free port of 127.0.0.1."""
    record = LocalServer()
    handler = web.Server(lambda request: respond(record, request))

    def accept() -> asyncio.Protocol:
        record.connections += 1
        return handler()

    listener = await asyncio.get_running_loop().create_server(accept, "127.0.0.1", 0, ssl=tls)
    record.port = listener.sockets[0].getsockname()[1]
    try:
        yield record
    finally:
        listener.close()
        await handler.shutdown(0.1)
        await listener.wait_closed()


@pytest.fixture(autouse=True)
async def connect_attempts(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every address the client tries to connect to; anything off this machine is refused unsent."""
    loop = asyncio.get_running_loop()
    attempts: list[str] = []
    sock_connect = loop.sock_connect
    create_connection = loop.create_connection

    def check(host: str) -> None:
        attempts.append(host)
        if not ipaddress.ip_address(host).is_loopback:
            raise ConnectionRefusedError(f"test guard: {host} is not on this machine")

    async def guarded_sock_connect(sock: socket.socket, address: Any) -> None:
        if isinstance(address, tuple):  # a Unix socket (the test database) is on this machine
            check(address[0])
        await sock_connect(sock, address)

    async def guarded_create_connection(*args: Any, **kwargs: Any) -> Any:
        host = kwargs.get("host", args[1] if len(args) > 1 else None)
        if host is not None:
            check(host)
        return await create_connection(*args, **kwargs)

    monkeypatch.setattr(loop, "sock_connect", guarded_sock_connect)
    monkeypatch.setattr(loop, "create_connection", guarded_create_connection)
    return attempts


@pytest.fixture
async def client() -> AsyncIterator[HttpClient]:
    """A client allowing 127.0.0.0/8, as tests and local development configure it."""
    async with HttpClient(LOOPBACK, user_agent=USER_AGENT, static_hosts=STATIC_HOSTS, total_timeout=5) as http:
        yield http


@pytest.fixture
async def strict_client() -> AsyncIterator[HttpClient]:
    """A client with the production policy: no private network allowed."""
    async with HttpClient(user_agent=USER_AGENT, static_hosts=STATIC_HOSTS, total_timeout=5) as http:
        yield http


@pytest.fixture
async def server() -> AsyncIterator[LocalServer]:
    """A plain-http test server."""
    async with serving() as local:
        yield local


@pytest.fixture(scope="session")
def ca() -> trustme.CA:
    """A throwaway certificate authority."""
    return trustme.CA()


@pytest.fixture
async def tls_server(ca: trustme.CA) -> AsyncIterator[LocalServer]:
    """A TLS test server with a certificate for a.test from the throwaway CA."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("a.test").configure_cert(context)
    async with serving(context) as local:
        yield local


def recording_signer(seen: list[tuple[str, str]]) -> Signer:
    """A signer that records what it signs and adds a header naming it."""

    def sign(method: str, url: str, headers: dict[str, str], body: bytes | None) -> dict[str, str]:
        seen.append((method, url))
        return {**headers, "Signature": f"{method} {url} {len(body or b'')}"}

    return sign


async def test_get_returns_status_headers_body_and_url(
    client: HttpClient, server: LocalServer, connect_attempts: list[str]
) -> None:
    url = server.url("a.test", "/hello")
    response = await client.get(url, {"Accept": "application/activity+json"})
    assert response.status == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == {"path": "/hello"}
    assert response.url == url
    assert server.requests[0].headers["User-Agent"] == USER_AGENT
    assert server.requests[0].headers["Accept"] == "application/activity+json"
    assert connect_attempts == ["127.0.0.1"]


async def test_post_sends_the_body_and_the_signed_headers(client: HttpClient, server: LocalServer) -> None:
    seen: list[tuple[str, str]] = []
    url = server.url("a.test", "/echo")
    response = await client.post(url, b'{"type":"Follow"}', {"Content-Type": "application/activity+json"},
                                 sign=recording_signer(seen))
    assert (response.status, response.body) == (201, b'POST {"type":"Follow"}')
    assert seen == [("POST", url)]
    assert server.requests[0].headers["Signature"] == f"POST {url} 17"
    assert server.requests[0].headers["Content-Type"] == "application/activity+json"


async def test_url_is_sent_exactly_as_given(client: HttpClient, server: LocalServer) -> None:
    seen: list[tuple[str, str]] = []
    url = server.url("a.test", "/users/a%2Fb/caf%C3%A9?q=a%2Bb&r=%7E")
    await client.get(url, sign=recording_signer(seen))
    assert server.requests[0].raw_path == "/users/a%2Fb/caf%C3%A9?q=a%2Bb&r=%7E"
    assert seen == [("GET", url)]


async def test_non_2xx_is_returned_with_headers(client: HttpClient, server: LocalServer) -> None:
    response = await client.get(server.url("a.test", "/too-many"))
    assert (response.status, response.headers["retry-after"], response.body) == (429, "120", b"slow down")


async def test_invalid_json_is_an_invalid_response(client: HttpClient, server: LocalServer) -> None:
    response = await client.get(server.url("a.test", "/not-json"))
    with pytest.raises(InvalidResponse):
        response.json()


async def test_loopback_is_refused_without_the_allowlist(
    strict_client: HttpClient, server: LocalServer, connect_attempts: list[str]
) -> None:
    for url in (server.url("a.test", "/hello", "https"), server.url("127.0.0.1", "/hello", "https")):
        with pytest.raises(ForbiddenAddress):
            await strict_client.get(url)
    assert connect_attempts == []
    assert server.connections == 0


@pytest.mark.parametrize("address", FORBIDDEN_ADDRESSES)
async def test_names_of_forbidden_addresses_are_refused_before_connecting(
    client: HttpClient, server: LocalServer, connect_attempts: list[str], address: str
) -> None:
    name = f"forbidden{FORBIDDEN_ADDRESSES.index(address)}.test"
    for url in (server.url(name, "/hello", "https"), server.url(name, "/hello", "http")):
        with pytest.raises(ForbiddenAddress, match="no public address"):
            await client.get(url)
    with pytest.raises(ForbiddenAddress):
        await client.post(server.url(name, "/echo", "https"), b"{}")
    assert connect_attempts == []
    assert server.connections == 0


@pytest.mark.parametrize("address", FORBIDDEN_ADDRESSES)
async def test_literal_forbidden_addresses_are_refused(
    client: HttpClient, connect_attempts: list[str], address: str
) -> None:
    host = f"[{address}]" if ":" in address else address
    with pytest.raises(ForbiddenAddress):
        await client.get(f"https://{host}:8443/latest/meta-data")
    assert connect_attempts == []


@pytest.mark.parametrize("host", ["2130706433", "127.1", "017700000001", "127.0.0.1.", "[fe80::1%25lo]"])
async def test_unusual_ip_literals_are_refused(
    strict_client: HttpClient, connect_attempts: list[str], host: str
) -> None:
    with pytest.raises(ForbiddenAddress):
        await strict_client.get(f"https://{host}/")
    assert connect_attempts == []


async def test_a_name_with_mixed_addresses_connects_only_to_permitted_ones(
    client: HttpClient, server: LocalServer, connect_attempts: list[str]
) -> None:
    response = await client.get(server.url("mixed.test", "/hello"))
    assert response.status == 200
    assert connect_attempts == ["127.0.0.1"]


async def test_public_addresses_pass_the_resolver_for_https_only() -> None:
    resolver = PolicyResolver(AddressPolicy(), aiohttp.ThreadedResolver(), STATIC_HOSTS)
    results = await resolver.resolve("public.test", 443)
    assert [result["host"] for result in results] == [PUBLIC_ADDRESS]
    with pytest.raises(ForbiddenAddress):
        await resolver.resolve("mixed.test", 443)


async def test_plain_http_is_refused_outside_the_allowlist(
    client: HttpClient, connect_attempts: list[str]
) -> None:
    with pytest.raises(UnsupportedScheme, match="plain http"):
        await client.get("http://public.test/")
    with pytest.raises(UnsupportedScheme, match="plain http"):
        await client.get(f"http://{PUBLIC_ADDRESS}/")
    assert connect_attempts == []


@pytest.mark.parametrize("url", ["ftp://a.test/x", "file:///etc/passwd", "wss://a.test/", "//a.test/x", "/x"])
async def test_other_schemes_are_refused(client: HttpClient, url: str, connect_attempts: list[str]) -> None:
    with pytest.raises(UnsupportedScheme):
        await client.get(url)
    assert connect_attempts == []


@pytest.mark.parametrize("path", ["/x\r\nX-Injected: 1", "/a b", "/caf\u00e9", "/tab\there"])
async def test_urls_that_are_not_percent_encoded_are_refused(
    client: HttpClient, server: LocalServer, path: str
) -> None:
    with pytest.raises(FetchError, match="percent-encoded"):
        await client.get(server.url("a.test", path))
    assert server.connections == 0


@pytest.mark.parametrize("location", ["/a b", "/caf\u00e9"])
async def test_redirects_that_are_not_percent_encoded_are_refused(
    client: HttpClient, server: LocalServer, location: str
) -> None:
    server.redirects["/start"] = (302, location)
    with pytest.raises(FetchError, match="percent-encoded"):
        await client.get(server.url("a.test", "/start"))
    assert [r.raw_path for r in server.requests] == ["/start"]


async def test_redirects_are_followed_and_signed_per_hop(client: HttpClient) -> None:
    async with serving() as a, serving() as b:
        a.redirects["/start"] = (301, b.url("b.test", "/hop%2F1"))
        b.redirects["/hop%2F1"] = (302, "/hop2?x=%2F")
        b.redirects["/hop2"] = (307, a.url("a.test", "/end"))
        seen: list[tuple[str, str]] = []
        response = await client.get(a.url("a.test", "/start"), sign=recording_signer(seen))
    assert response.status == 200
    assert response.url == a.url("a.test", "/end")
    assert seen == [
        ("GET", a.url("a.test", "/start")),
        ("GET", b.url("b.test", "/hop%2F1")),
        ("GET", b.url("b.test", "/hop2?x=%2F")),
        ("GET", a.url("a.test", "/end")),
    ]
    assert [r.headers["Signature"] for r in a.requests + b.requests] == [
        f"GET {a.url('a.test', '/start')} 0",
        f"GET {a.url('a.test', '/end')} 0",
        f"GET {b.url('b.test', '/hop%2F1')} 0",
        f"GET {b.url('b.test', '/hop2?x=%2F')} 0",
    ]


@pytest.mark.parametrize("target", ["https://forbidden3.test/", "http://169.254.169.254/latest/meta-data/"])
async def test_a_redirect_to_a_forbidden_address_is_refused(
    client: HttpClient, server: LocalServer, connect_attempts: list[str], target: str
) -> None:
    server.redirects["/start"] = (302, target)
    with pytest.raises(ForbiddenAddress):
        await client.get(server.url("a.test", "/start"))
    assert connect_attempts == ["127.0.0.1"]


async def test_too_many_redirects_are_refused(client: HttpClient, server: LocalServer) -> None:
    server.redirects["/loop"] = (302, "/loop")
    with pytest.raises(TooManyRedirects):
        await client.get(server.url("a.test", "/loop"))
    assert len(server.requests) == 4


async def test_a_post_is_never_redirected(client: HttpClient, server: LocalServer) -> None:
    server.redirects["/inbox"] = (308, "/elsewhere")
    response = await client.post(server.url("a.test", "/inbox"), b"{}")
    assert (response.status, response.headers["Location"]) == (308, "/elsewhere")
    assert [r.raw_path for r in server.requests] == ["/inbox"]


async def test_bodies_over_the_cap_are_refused(server: LocalServer) -> None:
    async with HttpClient(LOOPBACK, user_agent=USER_AGENT, static_hosts=STATIC_HOSTS, max_response_bytes=1999) as http:
        with pytest.raises(ResponseTooLarge, match="Content-Length"):
            await http.get(server.url("a.test", "/big"))
        with pytest.raises(ResponseTooLarge, match="body exceeds 1999"):
            await http.get(server.url("a.test", "/chunked"))
        with pytest.raises(ResponseTooLarge):
            await http.get(server.url("a.test", "/chunked"), max_bytes=5000)


async def test_a_smaller_per_call_cap_is_honoured(client: HttpClient, server: LocalServer) -> None:
    assert len((await client.get(server.url("a.test", "/big"))).body) == 2000
    assert len((await client.get(server.url("a.test", "/chunked"), max_bytes=2000)).body) == 2000
    with pytest.raises(ResponseTooLarge):
        await client.get(server.url("a.test", "/big"), max_bytes=1000)
    with pytest.raises(ResponseTooLarge):
        await client.get(server.url("a.test", "/chunked"), max_bytes=1999)


async def test_a_server_that_never_answers_times_out(client: HttpClient) -> None:
    async def swallow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()
        writer.close()

    listener = await asyncio.start_server(swallow, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    try:
        with pytest.raises(FetchTimeout):
            await client.get(f"http://a.test:{port}/", timeout=0.5)
    finally:
        listener.close()
        await listener.wait_closed()


async def test_a_slow_body_hits_the_total_timeout(client: HttpClient, server: LocalServer) -> None:
    with pytest.raises(FetchTimeout):
        await client.get(server.url("a.test", "/slow"), timeout=1.5)
    assert len(server.requests) == 1  # one request, not retried


async def test_sequential_requests_reuse_one_connection(client: HttpClient, server: LocalServer) -> None:
    for _ in range(3):
        assert (await client.get(server.url("a.test", "/hello"))).status == 200
    assert server.connections == 1


async def test_tls_with_a_trusted_context(ca: trustme.CA, tls_server: LocalServer) -> None:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    async with HttpClient(LOOPBACK, user_agent=USER_AGENT, static_hosts=STATIC_HOSTS, ssl_context=context) as http:
        response = await http.get(tls_server.url("a.test", "/hello", "https"))
    assert response.json() == {"path": "/hello"}


async def test_tls_trusts_ssl_cert_file(
    ca: trustme.CA, tls_server: LocalServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    async with HttpClient(LOOPBACK, user_agent=USER_AGENT, static_hosts=STATIC_HOSTS) as http:
        response = await http.get(tls_server.url("a.test", "/hello", "https"))
    assert response.status == 200


async def test_an_untrusted_certificate_fails(tls_server: LocalServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    async with HttpClient(LOOPBACK, user_agent=USER_AGENT, static_hosts=STATIC_HOSTS) as http:
        with pytest.raises(ConnectionFailed, match="TLS"):
            await http.get(tls_server.url("a.test", "/hello", "https"))


async def test_a_refused_connection_fails(client: HttpClient) -> None:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    with pytest.raises(ConnectionFailed):
        await client.get(f"http://a.test:{port}/")


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("8.8.8.8", True),
        ("2606:4700::1", True),
        ("::ffff:8.8.8.8", True),
        ("2002:808:808::1", True),
        ("64:ff9b::808:808", True),
        ("2002:c0a8:1::1", False),
        ("2001:0:4136:e378:8000:63bf:f5ff:fffe", False),
        ("198.18.0.1", False),
        ("240.0.0.1", False),
        ("fec0::1", False),
        ("3fff::1", False),
        ("192.0.2.1", False),
        *((address, False) for address in FORBIDDEN_ADDRESSES),
    ],
)
def test_is_public(address: str, public: bool) -> None:
    assert is_public(ipaddress.ip_address(address)) is public


def test_the_allowlist_matches_addresses_as_resolved() -> None:
    policy = AddressPolicy((ipaddress.ip_network("127.0.0.0/8"),))
    assert policy.permits(ipaddress.ip_address("127.0.0.2"), plain_http=True)
    assert not policy.permits(ipaddress.ip_address("::ffff:127.0.0.1"), plain_http=False)
    assert not policy.permits(ipaddress.ip_address(PUBLIC_ADDRESS), plain_http=True)
    assert policy.permits(ipaddress.ip_address(PUBLIC_ADDRESS), plain_http=False)


def test_static_hosts_must_be_addresses() -> None:
    with pytest.raises(ValueError, match="IP addresses"):
        HttpClient(user_agent=USER_AGENT, static_hosts={"a.test": "a.example"})


async def test_errors_are_fetch_errors(client: HttpClient) -> None:
    with pytest.raises(FetchError) as caught:
        await client.get("https://forbidden0.test/x")
    assert caught.value.url == "https://forbidden0.test/x"
    assert "10.1.2.3" in caught.value.reason
